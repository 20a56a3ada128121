import { ActionIcon, Button, Card, Group, NumberInput, Select, Stack, Switch, Text, TextInput } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { AnalysisDraft, StepDraft } from '../../release/build-analysis.js';

/**
 * The wizard's automated analysis (canary by weight): a steps editor (the candidate's weight step by step, pauses
 * with or without a duration) and the checks the judge runs every interval. Off by default; turned on it shows
 * the defaults the API would use.
 */
export function AnalysisEditor({
  value,
  onChange,
  candidate,
}: {
  value: AnalysisDraft;
  onChange: (a: AnalysisDraft) => void;
  candidate: string;
}) {
  const { t } = useTranslation();
  const set = (p: Partial<AnalysisDraft>) => onChange({ ...value, ...p });
  const setStep = (i: number, p: Partial<StepDraft>) => set({ steps: value.steps.map((s, j) => (j === i ? { ...s, ...p } : s)) });
  return (
    <Card withBorder maw={820} data-test="analysis-editor">
      <Switch
        checked={value.enabled}
        onChange={(e) => set({ enabled: e.currentTarget.checked })}
        label={t('analysis.enable')}
        description={t('analysis.enableHint', { candidate })}
        data-test="analysis-enable"
      />
      {value.enabled && (
        <Stack gap="xs" mt="md">
          <Text fw={600} size="sm">
            {t('analysis.steps')}
          </Text>
          {value.steps.map((s, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: rows have no identity beyond their position
            <Group key={i} gap="xs" align="flex-end" wrap="nowrap" data-test="analysis-step">
              <Text size="sm" w={24} c="dimmed">
                {i + 1}.
              </Text>
              <Select
                aria-label={t('analysis.stepKind')}
                w={170}
                value={s.kind}
                onChange={(v) => setStep(i, { kind: (v ?? 'setWeight') as StepDraft['kind'] })}
                data={[
                  { value: 'setWeight', label: t('analysis.setWeight') },
                  { value: 'pause', label: t('analysis.pause') },
                ]}
                data-test="analysis-step-kind"
              />
              {s.kind === 'setWeight' ? (
                <NumberInput
                  aria-label={t('analysis.weight')}
                  w={120}
                  min={0}
                  max={100}
                  suffix=" %"
                  value={s.weight}
                  onChange={(v) => setStep(i, { weight: Number(v) })}
                  data-test="analysis-step-weight"
                />
              ) : (
                <TextInput
                  aria-label={t('analysis.duration')}
                  w={200}
                  placeholder={t('analysis.untilPromote')}
                  value={s.duration}
                  onChange={(e) => setStep(i, { duration: e.currentTarget.value })}
                  data-test="analysis-step-duration"
                />
              )}
              <ActionIcon
                variant="subtle"
                color="red"
                mb={4}
                aria-label={t('wizard.remove')}
                onClick={() => set({ steps: value.steps.filter((_, j) => j !== i) })}
              >
                ×
              </ActionIcon>
            </Group>
          ))}
          <Button
            variant="light"
            size="xs"
            w="fit-content"
            onClick={() => set({ steps: [...value.steps, { kind: 'setWeight', weight: 100, duration: '' }] })}
            data-test="analysis-step-add"
          >
            {t('analysis.addStep')}
          </Button>
          <Text fw={600} size="sm" mt="sm">
            {t('analysis.checks')}
          </Text>
          <Group gap="md" align="flex-end">
            <TextInput
              label={t('analysis.interval')}
              w={120}
              value={value.interval}
              onChange={(e) => set({ interval: e.currentTarget.value })}
              data-test="analysis-interval"
            />
            <NumberInput
              label={t('analysis.minSuccess')}
              w={170}
              min={0}
              max={100}
              decimalScale={2}
              suffix=" %"
              value={value.minSuccess}
              onChange={(v) => set({ minSuccess: Number(v) })}
              data-test="analysis-min-success"
            />
            <NumberInput
              label={t('analysis.maxP99')}
              w={170}
              min={1}
              suffix=" ms"
              value={value.maxP99Ms}
              onChange={(v) => set({ maxP99Ms: Number(v) })}
              data-test="analysis-max-p99"
            />
            <NumberInput
              label={t('analysis.minRequests')}
              w={170}
              min={1}
              value={value.minRequests}
              onChange={(v) => set({ minRequests: Number(v) })}
              data-test="analysis-min-requests"
            />
          </Group>
          <Text size="xs" c="dimmed">
            {t('analysis.judgeHint')}
          </Text>
        </Stack>
      )}
    </Card>
  );
}
