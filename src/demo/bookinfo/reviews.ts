import { forwardHeaders } from './trace-headers.js';
import { type BookinfoEnv, type BookinfoHandler, parseId, sendJson, serveIfMain } from './bookinfo-server.js';

export type StarColor = 'black' | 'red';

/** v1 shows no stars, v2 black stars, v3 red stars (Istio's reviews versions). */
export function starColor(version: string): StarColor | null {
  if (version === 'v2') return 'black';
  if (version === 'v3') return 'red';
  return null;
}

export interface Review {
  reviewer: string;
  text: string;
  rating?: { stars: number; color: StarColor } | { error: string };
}

export interface ReviewsReply {
  id: string;
  podname: string;
  instance: string;
  version: string;
  clustername: string;
  reviews: Review[];
}

const REVIEWS = [
  { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
  {
    reviewer: 'Reviewer2',
    text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.',
  },
];

export const RATINGS_UNAVAILABLE = 'Ratings service is currently unavailable';

/** reviews: GET /reviews/{id}; v2 and v3 ask ratings for the stars, forwarding the trace headers. */
export function reviewsHandler(env: BookinfoEnv): BookinfoHandler {
  const color = starColor(env.version);
  return async (req, res, url) => {
    const [, first, idText] = url.pathname.split('/');
    const id = parseId(idText);
    if (req.method !== 'GET' || first !== 'reviews' || id === undefined) {
      return sendJson(res, 404, { error: `no such resource: ${req.method} ${url.pathname}; try GET /reviews/0` });
    }
    let ratings: Record<string, number> | null = null;
    if (color) {
      try {
        const r = await env.mesh.get('ratings', `/ratings/${id}`, forwardHeaders(req.headers), 2500);
        if (r.status === 200) ratings = (JSON.parse(r.body) as { ratings: Record<string, number> }).ratings;
        else process.stderr.write(`reviews: ratings answered ${r.status}\n`);
      } catch (err) {
        process.stderr.write(`reviews: ratings call failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    const reviews: Review[] = REVIEWS.map((r) => {
      if (!color) return { ...r };
      const stars = ratings?.[r.reviewer];
      return { ...r, rating: stars === undefined ? { error: RATINGS_UNAVAILABLE } : { stars, color } };
    });
    const reply: ReviewsReply = {
      id: String(id),
      podname: env.instance,
      instance: env.instance,
      version: env.version,
      clustername: 'null',
      reviews,
    };
    sendJson(res, 200, reply);
  };
}

serveIfMain(import.meta.url, 'reviews', reviewsHandler);
