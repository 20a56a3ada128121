import '@mantine/core/styles.css';
import './i18n/i18n.js';
import {
  type CSSVariablesResolver,
  createTheme,
  defaultVariantColorsResolver,
  MantineProvider,
  parseThemeColor,
  type VariantColorsResolver,
} from '@mantine/core';
import { MutationCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { App } from './App.js';
import { notifyError } from './components/notifications.js';
import { i18next } from './i18n/i18n.js';

// Mantine's light/subtle/outline variants draw shade-6 text on a translucent tint, below WCAG AA contrast
// (and worse on a highlighted row): the console uses an opaque shade-0 tint and shade-9 text, or near-black
// text for the hues whose dark shades are still too light.
const readableVariants = new Set(['light', 'subtle', 'outline', 'transparent']);
const lowContrastHues = new Set(['yellow', 'orange', 'lime', 'green']);
const variantColorResolver: VariantColorsResolver = (input) => {
  const base = defaultVariantColorsResolver(input);
  if (!readableVariants.has(input.variant)) return base;
  const parsed = parseThemeColor({ color: input.color ?? input.theme.primaryColor, theme: input.theme });
  if (!parsed.isThemeColor || parsed.color === 'dark') return base;
  const c = parsed.color;
  const text = lowContrastHues.has(c) ? 'var(--mantine-color-dark-7)' : `var(--mantine-color-${c}-9)`;
  if (input.variant === 'light') {
    return { ...base, background: `var(--mantine-color-${c}-0)`, hover: `var(--mantine-color-${c}-1)`, color: text, hoverColor: text };
  }
  return { ...base, color: text, hoverColor: text };
};

const theme = createTheme({
  variantColorResolver,
  primaryColor: 'indigo',
  // White on indigo.6 is below WCAG AA for button text; shade 8 passes.
  primaryShade: { light: 8, dark: 8 },
  defaultRadius: 'md',
  fontFamily: 'Inter, system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", sans-serif',
});

// Mantine's default dimmed grey is below WCAG AA contrast on white; a darker grey keeps the look and passes.
const cssVariablesResolver: CSSVariablesResolver = () => ({
  variables: {},
  light: { '--mantine-color-dimmed': '#5c636a' },
  dark: {},
});

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // Client errors (404 for an endpoint that does not exist yet, 401) will not heal by retrying.
      retry: (count, err) =>
        count < 2 && !(err && typeof err === 'object' && 'status' in err && Number(err.status) >= 400 && Number(err.status) < 500),
      refetchOnWindowFocus: false,
    },
  },
  // Every failed change is reported in one place.
  mutationCache: new MutationCache({
    onError: (err) => notifyError(err, i18next.t('errors.actionFailed')),
  }),
});

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <MantineProvider theme={theme} cssVariablesResolver={cssVariablesResolver}>
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
