import { type BookinfoEnv, type BookinfoHandler, parseId, sendJson, serveIfMain } from './bookinfo-server.js';

/** The book's details, as Istio's details service answers them. */
export function bookDetails(id: number): Record<string, unknown> {
  return {
    id,
    author: 'William Shakespeare',
    year: 1595,
    type: 'paperback',
    pages: 200,
    publisher: 'PublisherA',
    language: 'English',
    'ISBN-10': '1234567890',
    'ISBN-13': '123-1234567890',
  };
}

/** details: GET /details/{id}. */
export function detailsHandler(_env: BookinfoEnv): BookinfoHandler {
  return (req, res, url) => {
    const [, first, idText] = url.pathname.split('/');
    const id = parseId(idText);
    if (req.method !== 'GET' || first !== 'details' || id === undefined) {
      return sendJson(res, 404, { error: `no such resource: ${req.method} ${url.pathname}; try GET /details/0` });
    }
    sendJson(res, 200, bookDetails(id));
  };
}

serveIfMain(import.meta.url, 'details', detailsHandler);
