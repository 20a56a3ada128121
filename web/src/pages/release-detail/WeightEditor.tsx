import { Button, Group, Slider, Stack, Text } from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { usePatchTraffic } from '../../api/releases.js';
import type { Release } from '../../api/types.js';
import { useCan } from '../../api/whoami.js';
import { ConfirmModal } from '../../components/ConfirmModal.js';
import { pushToast } from '../../components/notifications.js';

/** A canary's weight slider with Apply (PATCH with If-Match). */
export function WeightEditor({ release }: { release: Release }) {
  const { t } = useTranslation();
  const candidate = release.candidate.name;
  const stored = release.traffic?.weights?.[candidate] ?? 0;
  const [value, setValue] = useState(stored);
  const [confirming, setConfirming] = useState(false);
  const patchTraffic = usePatchTraffic(release.name);
  const canChange = useCan('releases:write');
  // Follow changes made elsewhere while the user is not editing.
  const dirty = value !== stored;
  const last = useRef(stored);
  useEffect(() => {
    if (last.current !== stored && !dirty) setValue(stored);
    last.current = stored;
  }, [stored, dirty]);
  const apply = () => {
    patchTraffic.mutate(
      {
        traffic: { ...release.traffic, weights: { [release.baseline]: 100 - value, [candidate]: value } },
        resourceVersion: release.resourceVersion,
      },
      {
        onSuccess: () => {
          pushToast({ color: 'green', title: t('detail.done'), message: t('detail.weightsApplied'), details: [] });
          setConfirming(false);
        },
        onError: () => setConfirming(false),
      },
    );
  };
  return (
    <Stack gap="xs" mt="lg">
      <Text size="sm" fw={500}>
        {release.traffic?.match ? t('detail.adjustRest') : t('detail.adjust')}
      </Text>
      <Group justify="space-between">
        <Text size="sm">
          {release.baseline} {100 - value}%
        </Text>
        <Text size="sm">
          {candidate} {value}%
        </Text>
      </Group>
      <Slider
        value={value}
        onChange={setValue}
        step={5}
        min={0}
        max={100}
        disabled={!canChange}
        label={(v) => `${candidate} ${v}%`}
        thumbLabel={t('wizard.sliderLabel', { candidate })}
        data-test="detail-weight-slider"
      />
      {release.status.governor && (
        <Text size="xs" c="dimmed">
          {t('detail.governorNote', { version: release.status.governor })}
        </Text>
      )}
      <Group justify="flex-end">
        <Button size="xs" variant="default" disabled={!dirty} onClick={() => setValue(stored)}>
          {t('detail.reset')}
        </Button>
        <Button size="xs" disabled={!canChange || !dirty} onClick={() => setConfirming(true)} data-test="apply-weights">
          {t('detail.apply')}
        </Button>
      </Group>
      <ConfirmModal
        opened={confirming}
        title={t('detail.applyTitle')}
        body={t('detail.applyBody', { baseline: release.baseline, bw: 100 - value, candidate, cw: value })}
        confirmLabel={t('detail.apply')}
        loading={patchTraffic.isPending}
        onClose={() => setConfirming(false)}
        onConfirm={apply}
      />
    </Stack>
  );
}
