import { Badge, Box, Group, Paper, ScrollArea, SimpleGrid, Stack, Table, Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { ComparisonDifference, ExchangeSample } from '../../api/types.js';
import { type BodyLine, bodyLines } from '../../release/json-lines.js';

/** A body line; the differing field's lines are marked. */
function BodyLineView({ line }: { line: BodyLine }) {
  if (!line.marked) return <span style={{ display: 'block' }}>{line.text || ' '}</span>;
  return (
    <mark data-test="body-marked" style={{ display: 'block', background: 'var(--mantine-color-yellow-2)', color: 'inherit' }}>
      {line.text}
    </mark>
  );
}

const headerValue = (v: string | string[] | undefined): string => (Array.isArray(v) ? v.join(', ') : (v ?? ''));

/** One side of the example pair: status, headers and body, with what differs from the other side marked. */
function Side({
  side,
  label,
  version,
  sample,
  other,
  diff,
}: {
  side: 'primary' | 'mirror';
  label: string;
  version: string;
  sample: ExchangeSample;
  other: ExchangeSample;
  diff: ComparisonDifference;
}) {
  const { t } = useTranslation();
  const statusDiffers = sample.status !== other.status;
  const names = [...new Set([...Object.keys(sample.headers ?? {}), ...Object.keys(other.headers ?? {})])].sort();
  // Only the header this difference is about: others may differ too (framing, ignored or uncompared ones) without
  // counting, and marking them would point at the wrong thing.
  const headerDiffers = (h: string) => diff.kind === 'header' && diff.field?.toLowerCase() === h.toLowerCase();
  const lines = bodyLines(sample.body, diff.kind === 'body' ? diff.field : null);
  return (
    <Paper withBorder p="sm" data-test={`example-${side}`}>
      <Stack gap="xs">
        <Group justify="space-between">
          <Text fw={600} size="sm">
            {label} · {version}
          </Text>
          <Badge
            color={statusDiffers ? 'red' : 'gray'}
            variant={statusDiffers ? 'filled' : 'light'}
            data-test="example-status"
            data-differs={statusDiffers}
          >
            {sample.status}
          </Badge>
        </Group>
        <Table withRowBorders={false} verticalSpacing={2} fz="xs" data-test="example-headers">
          <Table.Tbody>
            {names.map((h) => {
              const differs = headerDiffers(h);
              return (
                <Table.Tr key={h} data-differs={differs} style={differs ? { background: 'var(--mantine-color-yellow-1)' } : undefined}>
                  <Table.Td ff="monospace" w="40%">
                    {h}
                  </Table.Td>
                  <Table.Td ff="monospace" style={{ wordBreak: 'break-all' }}>
                    {headerValue(sample.headers?.[h]) || '—'}
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
        <ScrollArea.Autosize mah={320} type="auto">
          <Box component="pre" m={0} fz="xs" ff="monospace" data-test="example-body" aria-label={t('mirror.body')}>
            {lines.length === 0 ? (
              <Text span c="dimmed" fz="xs">
                {t('mirror.noBody')}
              </Text>
            ) : (
              lines.map((l, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: lines have no identity beyond their position
                <BodyLineView key={i} line={l} />
              ))
            )}
          </Box>
        </ScrollArea.Autosize>
      </Stack>
    </Paper>
  );
}

/** The sampled example of a difference: the primary's answer and the mirror's, side by side. */
export function DifferenceExample({ diff, baseline, candidate }: { diff: ComparisonDifference; baseline: string; candidate: string }) {
  const { t } = useTranslation();
  if (!diff.example) {
    return (
      <Text size="sm" c="dimmed" data-test="example-none">
        {t('mirror.noExample')}
      </Text>
    );
  }
  const { primary, mirror } = diff.example;
  return (
    <Stack gap="xs" data-test="difference-example">
      <Text size="sm" fw={500}>
        {t('mirror.example', { method: diff.method, path: diff.path })}
      </Text>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Side side="primary" label={t('mirror.primary')} version={baseline} sample={primary} other={mirror} diff={diff} />
        <Side side="mirror" label={t('mirror.mirror')} version={candidate} sample={mirror} other={primary} diff={diff} />
      </SimpleGrid>
    </Stack>
  );
}
