import type { ReviewsReply } from './reviews.js';

export const PRODUCT = {
  id: 0,
  title: 'The Comedy of Errors',
  descriptionHtml:
    '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare\'s</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.',
};

export const DETAILS_UNAVAILABLE = 'Sorry, product details are currently unavailable for this book.';
export const REVIEWS_UNAVAILABLE = 'Sorry, product reviews are currently unavailable for this book.';

export interface ProductPageModel {
  user: string | null;
  details: Record<string, unknown> | null;
  reviews: ReviewsReply | null;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STAR_COLORS = { black: '#1a1a1a', red: '#c8102e' } as const;

function stars(rating: NonNullable<ReviewsReply['reviews'][number]['rating']>): string {
  if ('error' in rating) return `<p class="rating-error" data-test="rating-error">${escapeHtml(rating.error)}</p>`;
  const n = Math.max(0, Math.min(5, Math.round(rating.stars)));
  const color = STAR_COLORS[rating.color] ?? '#1a1a1a';
  return `<span class="stars" data-stars="${rating.color}" role="img" aria-label="${n} of 5 stars" style="color:${color}">${'★'.repeat(n)}${'☆'.repeat(5 - n)}</span>`;
}

function renderDetails(d: Record<string, unknown> | null): string {
  if (!d) return `<p class="unavailable">${DETAILS_UNAVAILABLE}</p>`;
  const rows: [string, unknown][] = [
    ['Type', d.type],
    ['Pages', d.pages],
    ['Publisher', d.publisher],
    ['Language', d.language],
    ['ISBN-10', d['ISBN-10']],
    ['ISBN-13', d['ISBN-13']],
  ];
  return `<dl>${rows.map(([k, v]) => `<dt>${k}:</dt><dd>${escapeHtml(String(v ?? ''))}</dd>`).join('')}</dl>`;
}

function renderReviews(r: ReviewsReply | null): string {
  if (!r) return `<p class="unavailable" data-test="reviews-unavailable">${REVIEWS_UNAVAILABLE}</p>`;
  const items = r.reviews
    .map(
      (rev) =>
        `<blockquote data-test="review"><p>${escapeHtml(rev.text)}</p><footer>${escapeHtml(rev.reviewer)}</footer>${rev.rating ? stars(rev.rating) : ''}</blockquote>`,
    )
    .join('\n');
  return `${items}\n<p class="served-by" data-test="reviews-served-by">Reviews served by: ${escapeHtml(r.instance ?? r.podname)}</p>`;
}

/** The product page: a title bar with sign-in, the book, its details and its reviews. */
export function renderProductPage(m: ProductPageModel): string {
  const account = m.user
    ? `<span data-test="signed-in-user">Signed in as <b>${escapeHtml(m.user)}</b></span> <a href="/logout" data-test="logout">Sign out</a>`
    : `<form method="post" action="/login" class="login" data-test="login-form">
  <input name="username" placeholder="User name" aria-label="User name" required>
  <input name="passwd" type="password" placeholder="Password (any)" aria-label="Password">
  <button type="submit">Sign in</button>
</form>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Simple Bookstore App</title>
<link rel="stylesheet" href="/static/bookinfo.css">
</head>
<body>
<header class="bar" data-test="title-bar"><a class="brand" href="/productpage">BookInfo Sample</a><div class="account">${account}</div></header>
<main>
<section class="book"><h1>${escapeHtml(PRODUCT.title)}</h1><p>${PRODUCT.descriptionHtml}</p></section>
<div class="columns">
<section class="details" data-test="book-details"><h2>Book Details</h2>${renderDetails(m.details)}</section>
<section class="reviews" data-test="book-reviews"><h2>Book Reviews</h2>
${renderReviews(m.reviews)}
</section>
</div>
</main>
</body>
</html>
`;
}

export const BOOKINFO_CSS = `body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fafafa}
.bar{display:flex;justify-content:space-between;align-items:center;gap:1rem;flex-wrap:wrap;padding:.6rem 1.2rem;background:#24292f;color:#fff}
.bar a{color:#fff;text-decoration:none}.brand{font-weight:600;font-size:1.1rem}
.login{display:flex;gap:.4rem}.login input{padding:.2rem .4rem}
main{max-width:62rem;margin:0 auto;padding:1rem 1.2rem}
.book h1{text-align:center;margin:.5rem 0}
.columns{display:grid;grid-template-columns:1fr 1fr;gap:2rem}
@media (max-width:40rem){.columns{grid-template-columns:1fr}}
dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
blockquote{margin:0 0 1rem;padding:.5rem 1rem;border-left:4px solid #ccc;background:#fff}
blockquote footer{font-size:.9rem;color:#555}
.stars{font-size:1.3rem;letter-spacing:.1rem}
.unavailable,.rating-error{color:#a00}
.served-by{font-size:.9rem;color:#444}
`;
