import { Paper, Stack, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';

export function EmptyState({ title, hint, action, test }: { title: string; hint: string; action?: ReactNode; test?: string }) {
  return (
    <Paper withBorder p="xl" radius="md" data-test={test ?? 'empty-state'}>
      <Stack align="center" gap="xs">
        <Title order={4}>{title}</Title>
        <Text c="dimmed" ta="center" maw={520} size="sm">
          {hint}
        </Text>
        {action}
      </Stack>
    </Paper>
  );
}
