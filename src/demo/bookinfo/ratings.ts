import { type BookinfoEnv, type BookinfoHandler, parseId, sendJson, serveIfMain } from './bookinfo-server.js';

/** ratings: GET /ratings/{id} -> the stars each reviewer gave. */
export function ratingsHandler(env: BookinfoEnv): BookinfoHandler {
  return (req, res, url) => {
    const [, first, idText] = url.pathname.split('/');
    const id = parseId(idText);
    if (req.method !== 'GET' || first !== 'ratings' || id === undefined) {
      return sendJson(res, 404, { error: `no such resource: ${req.method} ${url.pathname}; try GET /ratings/0` });
    }
    sendJson(res, 200, { id, ratings: { Reviewer1: 5, Reviewer2: 4 }, instance: env.instance });
  };
}

serveIfMain(import.meta.url, 'ratings', ratingsHandler);
