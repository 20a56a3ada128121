import { describe, expect, it } from 'vitest';
import { cookieValue } from './cookie.js';

describe('cookieValue', () => {
  it('finds a cookie among several, as browsers send them', () => {
    expect(cookieValue('a=1; user=jason; b=2', 'user')).toBe('jason');
    expect(cookieValue('user=jason', 'user')).toBe('jason');
    expect(cookieValue('a=1;user=jason', 'user')).toBe('jason');
    expect(cookieValue('a=1;  user = jason ;b=2', 'user')).toBe('jason');
  });
  it('does not confuse names that share a prefix or suffix', () => {
    expect(cookieValue('xuser=jason; username=bob', 'user')).toBeUndefined();
    expect(cookieValue('user2=a; user=b', 'user')).toBe('b');
  });
  it('handles absent headers, empty values and quoted values', () => {
    expect(cookieValue(undefined, 'user')).toBeUndefined();
    expect(cookieValue('user=', 'user')).toBe('');
    expect(cookieValue('user="jason"', 'user')).toBe('jason');
    expect(cookieValue('flag; user=jason', 'user')).toBe('jason');
  });
});
