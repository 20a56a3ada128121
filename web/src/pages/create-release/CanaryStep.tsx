import { ActionIcon, Alert, Button, Card, Group, Radio, Select, Slider, Stack, Text, TextInput } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { MatchKind } from '../../api/types.js';
import type { ClientOs, ConditionKind, MatchCondition, ReleaseDraft } from '../../release/build-release.js';
import { AnalysisEditor } from './AnalysisEditor.js';
import { SentPreview } from './SentPreview.js';
import type { StepProps } from './step-props.js';

/** Canary's last step: a weight split, or conditions that send matching requests to the candidate. */
export function CanaryStep({ draft, patch, error }: StepProps) {
  const { t } = useTranslation();
  const setCond = (i: number, p: Partial<MatchCondition>) =>
    patch({ conditions: draft.conditions.map((c, j) => (j === i ? { ...c, ...p } : c)) });
  return (
    <Stack mt="md">
      <Radio.Group value={draft.strategy} onChange={(v) => patch({ strategy: v as ReleaseDraft['strategy'] })} label={t('wizard.strategy')}>
        <Group mt="xs">
          <Radio value="weights" label={t('wizard.byWeight')} data-test="strategy-weights" />
          <Radio value="match" label={t('wizard.byRequest')} data-test="strategy-match" />
        </Group>
      </Radio.Group>
      {draft.strategy === 'weights' && !draft.analysis.enabled ? (
        <Card withBorder maw={640}>
          <Group justify="space-between" mb="xs">
            <Text fw={600} data-test="weight-baseline">
              {draft.baseline} {100 - draft.candidateWeight}%
            </Text>
            <Text fw={600} data-test="weight-candidate">
              {draft.candidate} {draft.candidateWeight}%
            </Text>
          </Group>
          <Slider
            value={draft.candidateWeight}
            onChange={(v) => patch({ candidateWeight: v })}
            min={0}
            max={100}
            step={5}
            marks={[{ value: 0 }, { value: 25 }, { value: 50 }, { value: 75 }, { value: 100 }]}
            label={(v) => `${draft.baseline} ${100 - v}% / ${draft.candidate} ${v}%`}
            thumbLabel={t('wizard.sliderLabel', { candidate: draft.candidate })}
            data-test="weight-slider"
          />
          <Text size="xs" c="dimmed" mt="md">
            {t('wizard.byWeightHint')}
          </Text>
        </Card>
      ) : null}
      {draft.strategy === 'weights' && (
        <AnalysisEditor value={draft.analysis} onChange={(analysis) => patch({ analysis })} candidate={draft.candidate} />
      )}
      {draft.strategy === 'weights' ? null : (
        <Card withBorder maw={820}>
          <Text size="sm" mb="sm">
            {t('wizard.byRequestHint', { candidate: draft.candidate, baseline: draft.baseline })}
          </Text>
          <Stack gap="xs">
            {draft.conditions.map((c, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows have no identity beyond their position
              <Group key={i} gap="xs" align="flex-end" wrap="nowrap" data-test="condition-row">
                <Select
                  label={i === 0 ? t('wizard.condKind') : undefined}
                  aria-label={t('wizard.condKind')}
                  w={150}
                  value={c.kind}
                  onChange={(v) => setCond(i, { kind: (v ?? 'header') as ConditionKind })}
                  data={(['header', 'cookie', 'uri', 'os'] as const).map((k) => ({ value: k, label: t(`wizard.cond.${k}`) }))}
                  data-test="condition-kind"
                />
                {(c.kind === 'header' || c.kind === 'cookie') && (
                  <TextInput
                    label={i === 0 ? t('wizard.condName') : undefined}
                    aria-label={t('wizard.condName')}
                    w={160}
                    value={c.name}
                    onChange={(e) => setCond(i, { name: e.currentTarget.value })}
                    data-test="condition-name"
                  />
                )}
                {c.kind === 'os' ? (
                  <Select
                    label={i === 0 ? t('wizard.condOs') : undefined}
                    aria-label={t('wizard.condOs')}
                    w={200}
                    value={c.os}
                    onChange={(v) => setCond(i, { os: (v ?? 'android') as ClientOs })}
                    data={(['android', 'ios', 'windows', 'macos', 'linux'] as const).map((o) => ({ value: o, label: t(`wizard.os.${o}`) }))}
                    data-test="condition-os"
                  />
                ) : (
                  <>
                    <Select
                      label={i === 0 ? t('wizard.condMatch') : undefined}
                      aria-label={t('wizard.condMatch')}
                      w={130}
                      value={c.match}
                      onChange={(v) => setCond(i, { match: (v ?? 'exact') as MatchKind })}
                      data={(['exact', 'prefix', 'regex'] as const).map((m) => ({ value: m, label: t(`wizard.match.${m}`) }))}
                      data-test="condition-match"
                    />
                    <TextInput
                      label={i === 0 ? t('wizard.condValue') : undefined}
                      aria-label={t('wizard.condValue')}
                      style={{ flex: 1 }}
                      value={c.value}
                      placeholder={c.kind === 'uri' ? '/api/v2' : 'jason'}
                      onChange={(e) => setCond(i, { value: e.currentTarget.value })}
                      data-test="condition-value"
                    />
                  </>
                )}
                <ActionIcon
                  variant="subtle"
                  color="red"
                  mb={4}
                  aria-label={t('wizard.remove')}
                  onClick={() => patch({ conditions: draft.conditions.filter((_, j) => j !== i) })}
                >
                  ×
                </ActionIcon>
              </Group>
            ))}
            <Button
              variant="light"
              size="xs"
              w="fit-content"
              onClick={() =>
                patch({ conditions: [...draft.conditions, { kind: 'header', name: '', match: 'exact', value: '', os: 'android' }] })
              }
              data-test="condition-add"
            >
              {t('wizard.addCondition')}
            </Button>
            <Text size="xs" c="dimmed">
              {t('wizard.andHint')}
            </Text>
          </Stack>
        </Card>
      )}
      {error && (
        <Alert color="red" variant="light">
          {t(error)}
        </Alert>
      )}
      <SentPreview draft={draft} />
    </Stack>
  );
}
