import { AppShell, Badge, Box, Button, Group, NavLink, Text, Title } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Outlet, Link as RouterLink, useLocation } from 'react-router';
import { writeToken } from '../api/token-store.js';
import { useWhoAmI } from '../api/whoami.js';
import { LanguageSwitch } from './LanguageSwitch.js';

const nav = [
  { to: '/services', key: 'nav.services', test: 'nav-services' },
  { to: '/releases', key: 'nav.releases', test: 'nav-releases' },
  { to: '/topology', key: 'nav.topology', test: 'nav-topology' },
  { to: '/tracing', key: 'nav.tracing', test: 'nav-tracing' },
];

export function AppLayout() {
  const { t } = useTranslation();
  const location = useLocation();
  const qc = useQueryClient();
  const me = useWhoAmI();
  const signOut = () => {
    qc.clear();
    writeToken(null);
  };
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: 'sm' }} padding="lg">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="xs">
            <Box w={14} h={14} bg="yellow.6" style={{ borderRadius: '50%' }} aria-hidden />
            <Title order={1} size="h4">
              Canary Mesh
            </Title>
            <Text size="sm" c="dimmed" visibleFrom="sm">
              {t('app.tagline')}
            </Text>
          </Group>
          <Group gap="sm">
            {me.data && (
              <Group
                gap={6}
                data-test="signed-in-as"
                data-role={me.data.role}
                aria-label={t('nav.signedInAs', { name: me.data.name, role: me.data.role })}
              >
                <Text size="sm" fw={500} data-test="signed-in-name">
                  {me.data.name}
                </Text>
                <Badge
                  size="sm"
                  variant="light"
                  color={me.data.role === 'admin' ? 'red' : me.data.role === 'operator' ? 'blue' : 'gray'}
                  data-test="signed-in-role"
                >
                  {me.data.role}
                </Badge>
              </Group>
            )}
            <LanguageSwitch />
            <Button variant="subtle" size="xs" onClick={signOut} data-test="sign-out">
              {t('nav.signOut')}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="sm" component="nav" aria-label={t('nav.main')}>
        {nav.map((n) => (
          <NavLink
            key={n.to}
            component={RouterLink}
            to={n.to}
            label={t(n.key)}
            active={location.pathname.startsWith(n.to)}
            data-test={n.test}
            variant="light"
            style={{ borderRadius: 6 }}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Box maw={1280}>
          <Outlet />
        </Box>
      </AppShell.Main>
    </AppShell>
  );
}
