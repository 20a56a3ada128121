import { Loader } from '@mantine/core';
import { lazy, Suspense } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { useToken } from './auth.js';
import { AppLayout } from './components/AppLayout.js';
import { Notifications } from './components/Notifications.js';
import { CreateReleasePage } from './pages/CreateReleasePage.js';
import { ReleasesPage } from './pages/ReleasesPage.js';
import { ServicesPage } from './pages/ServicesPage.js';
import { SignInPage } from './pages/SignInPage.js';

// The chart and graph libraries are large: load them with the pages that draw them.
const ReleaseDetailPage = lazy(() => import('./pages/ReleaseDetailPage.js').then((m) => ({ default: m.ReleaseDetailPage })));
const TopologyPage = lazy(() => import('./pages/TopologyPage.js').then((m) => ({ default: m.TopologyPage })));
const TracingPage = lazy(() => import('./pages/TracingPage.js').then((m) => ({ default: m.TracingPage })));

export function App() {
  const token = useToken();
  const location = useLocation();
  return (
    <>
      <Notifications />
      {token ? (
        <Suspense fallback={<Loader m="xl" />}>
          <Routes>
            <Route element={<AppLayout />}>
              <Route path="/" element={<Navigate to="/services" replace />} />
              <Route path="/services" element={<ServicesPage />} />
              <Route path="/releases" element={<ReleasesPage />} />
              <Route path="/releases/new" element={<CreateReleasePage />} />
              <Route path="/releases/:name" element={<ReleaseDetailPage />} />
              <Route path="/topology" element={<TopologyPage />} />
              <Route path="/tracing" element={<TracingPage />} />
              <Route path="/sign-in" element={<Navigate to={new URLSearchParams(location.search).get('next') ?? '/services'} replace />} />
              <Route path="*" element={<Navigate to="/services" replace />} />
            </Route>
          </Routes>
        </Suspense>
      ) : (
        <Routes>
          <Route path="/sign-in" element={<SignInPage />} />
          <Route path="*" element={<Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />} />
        </Routes>
      )}
    </>
  );
}
