import {
  ActionIcon,
  Alert,
  Button,
  Card,
  Code,
  Group,
  Radio,
  Select,
  SimpleGrid,
  Slider,
  Stack,
  Stepper,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useSearchParams } from 'react-router';
import { useCreateRelease } from '../api/releases.js';
import { useServices } from '../api/services.js';
import type { MatchKind, Service } from '../api/types.js';
import { useCan, useWhoAmI } from '../api/whoami.js';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { ReadOnlyNotice } from '../components/ReadOnlyNotice.js';
import { toYaml } from '../components/to-yaml.js';
import {
  buildRelease,
  type ClientOs,
  type ConditionKind,
  emptyDraft,
  type MatchCondition,
  nameProblem,
  nextVersionName,
  type ReleaseDraft,
} from '../release/build-release.js';

const draftKey = 'canary.release-draft';

function loadDraft(): ReleaseDraft {
  try {
    const raw = sessionStorage.getItem(draftKey);
    if (raw) return { ...emptyDraft(), ...(JSON.parse(raw) as Partial<ReleaseDraft>) };
  } catch {
    // a damaged draft is simply dropped
  }
  return emptyDraft();
}

export function CreateReleasePage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const step = Math.min(Math.max(Number(params.get('step') ?? 0) || 0, 0), 3);
  const [draft, setDraft] = useState<ReleaseDraft>(loadDraft);
  const [touched, setTouched] = useState(false);
  const services = useServices();
  const create = useCreateRelease();
  const canCreate = useCan('releases:write');
  const service = services.data?.find((s) => s.name === draft.service);

  useEffect(() => {
    sessionStorage.setItem(draftKey, JSON.stringify(draft));
  }, [draft]);

  const patch = (p: Partial<ReleaseDraft>) => setDraft((d) => ({ ...d, ...p }));
  const problems = stepProblems(draft, service);
  const goTo = (s: number) => {
    setTouched(false);
    setParams({ step: String(s) });
  };
  const handleNext = () => {
    setTouched(true);
    if (problems[step]) return;
    goTo(step + 1);
  };
  const handleCreate = () => {
    setTouched(true);
    const firstBad = problems.findIndex(Boolean);
    if (firstBad >= 0) {
      goTo(firstBad);
      return;
    }
    create.mutate(buildRelease(draft, service), {
      onSuccess: (r) => {
        sessionStorage.removeItem(draftKey);
        navigate(`/releases/${encodeURIComponent(r?.name ?? draft.name)}`);
      },
    });
  };
  const problem = touched ? (problems[step] ?? null) : null;

  return (
    <Stack>
      <div>
        <Title order={2}>{t('wizard.title')}</Title>
        <Text c="dimmed" size="sm">
          {t('wizard.subtitle')}
        </Text>
      </div>
      <ReadOnlyNotice permission="releases:write" />
      <Card withBorder padding="lg">
        <Stepper active={step} onStepClick={(s) => s < step && goTo(s)} size="sm">
          <Stepper.Step label={t('wizard.stepBasic')} data-test="step-basic">
            <BasicStep draft={draft} patch={patch} error={problem} />
          </Stepper.Step>
          <Stepper.Step label={t('wizard.stepService')} data-test="step-service">
            <ServiceStep draft={draft} patch={patch} services={services.data ?? []} error={problem} loadError={services.error} />
          </Stepper.Step>
          <Stepper.Step label={t('wizard.stepVersion')} data-test="step-version">
            <VersionStep draft={draft} patch={patch} service={service} error={problem} />
          </Stepper.Step>
          <Stepper.Step label={t('wizard.stepStrategy')} data-test="step-strategy">
            <StrategyStep draft={draft} patch={patch} error={problem} />
          </Stepper.Step>
        </Stepper>
        <Group justify="space-between" mt="xl">
          <Button variant="default" onClick={() => (step === 0 ? navigate('/releases') : goTo(step - 1))} data-test="wizard-back">
            {step === 0 ? t('common.cancel') : t('wizard.back')}
          </Button>
          {step < 3 ? (
            <Button onClick={handleNext} data-test="wizard-next">
              {t('wizard.next')}
            </Button>
          ) : (
            <Button onClick={handleCreate} disabled={!canCreate} loading={create.isPending} data-test="wizard-create">
              {t('wizard.create')}
            </Button>
          )}
        </Group>
      </Card>
    </Stack>
  );
}

/** One i18n key per step, or null when the step is complete. */
function stepProblems(d: ReleaseDraft, service: Service | undefined): (string | null)[] {
  const basic = nameProblem(d.name);
  const svc = !d.service ? 'wizard.pickService' : !d.baseline ? 'wizard.pickBaseline' : null;
  let version = nameProblem(d.candidate);
  if (!version && d.candidate === d.baseline) version = 'wizard.sameAsBaseline';
  const existing = service?.versions.some((v) => v.name === d.candidate);
  const kind = service?.versions.find((v) => v.name === d.baseline)?.workload.kind;
  if (!version && !existing && kind === 'endpoints' && !d.addresses.trim()) version = 'wizard.needAddresses';
  if (!version && d.env.some((p) => p.value && !p.key.trim())) version = 'wizard.envKeyMissing';
  let strategy: string | null = null;
  if (d.strategy === 'match') {
    if (d.conditions.length === 0) strategy = 'wizard.needCondition';
    else if (d.conditions.some((c) => c.kind !== 'os' && !c.value)) strategy = 'wizard.conditionValue';
    else if (d.conditions.some((c) => (c.kind === 'header' || c.kind === 'cookie') && !c.name.trim())) strategy = 'wizard.conditionName';
  }
  return [basic, svc, version, strategy];
}

interface StepProps {
  draft: ReleaseDraft;
  patch: (p: Partial<ReleaseDraft>) => void;
  error: string | null;
}

function BasicStep({ draft, patch, error }: StepProps) {
  const { t } = useTranslation();
  return (
    <Stack maw={520} mt="md">
      <TextInput
        label={t('wizard.name')}
        description={t('wizard.nameHint')}
        placeholder="reviews-canary"
        value={draft.name}
        onChange={(e) => patch({ name: e.currentTarget.value })}
        error={error ? t(error) : undefined}
        data-test="release-name"
        autoFocus
      />
    </Stack>
  );
}

function ServiceStep({ draft, patch, services, error, loadError }: StepProps & { services: Service[]; loadError: unknown }) {
  const { t } = useTranslation();
  const service = services.find((s) => s.name === draft.service);
  const pickService = (name: string | null) => {
    const s = services.find((x) => x.name === name);
    const baseline = s?.versions[0]?.name ?? '';
    const candidate = nextVersionName(s);
    patch({
      service: name ?? '',
      baseline,
      candidate,
      env: s?.versions[0]?.workload.kind === 'process' ? [{ key: 'SERVICE_VERSION', value: candidate }] : [],
    });
  };
  return (
    <Stack maw={520} mt="md">
      <ErrorAlert error={loadError} />
      {services.length === 0 && !loadError && <Alert color="yellow">{t('wizard.noServices')}</Alert>}
      <Select
        label={t('wizard.service')}
        description={t('wizard.serviceHint')}
        data={services.map((s) => s.name)}
        value={draft.service || null}
        onChange={pickService}
        error={error === 'wizard.pickService' ? t(error) : undefined}
        searchable
        data-test="release-service"
        comboboxProps={{ withinPortal: true }}
      />
      {service && (
        <Select
          label={t('wizard.baseline')}
          description={t('wizard.baselineHint')}
          data={service.versions.map((v) => v.name)}
          value={draft.baseline || null}
          onChange={(v) => patch({ baseline: v ?? '' })}
          error={error === 'wizard.pickBaseline' ? t(error) : undefined}
          data-test="release-baseline"
        />
      )}
    </Stack>
  );
}

function VersionStep({ draft, patch, service, error }: StepProps & { service: Service | undefined }) {
  const { t } = useTranslation();
  const baseline = service?.versions.find((v) => v.name === draft.baseline);
  const kind = baseline?.workload.kind ?? 'process';
  const baselineProcess = baseline?.workload.kind === 'process' ? baseline.workload : undefined;
  const existing = service?.versions.some((v) => v.name === draft.candidate);
  // What a new version runs (command, args, env) is an admin's call; an operator may release a copy or an image.
  const me = useWhoAmI();
  const workloadAdmin = useCan('services:write');
  const setEnv = (i: number, p: { key?: string; value?: string }) =>
    patch({ env: draft.env.map((e, j) => (j === i ? { ...e, ...p } : e)) });
  return (
    <Stack maw={640} mt="md">
      <TextInput
        label={t('wizard.version')}
        description={t('wizard.versionHint')}
        value={draft.candidate}
        onChange={(e) => {
          const candidate = e.currentTarget.value;
          // Keep SERVICE_VERSION in step with the version name while the user has not changed it.
          const env = draft.env.map((p) => (p.key === 'SERVICE_VERSION' && p.value === draft.candidate ? { ...p, value: candidate } : p));
          patch({ candidate, env });
        }}
        error={error && error !== 'wizard.needAddresses' && error !== 'wizard.envKeyMissing' ? t(error) : undefined}
        data-test="release-version"
      />
      {existing ? (
        <Alert color="blue" variant="light">
          {t('wizard.existingVersion', { version: draft.candidate })}
        </Alert>
      ) : (
        <>
          <Text size="sm" c="dimmed">
            {t('wizard.inherits', { baseline: draft.baseline, kind: t(`workload.${kind}`) })}
          </Text>
          {me.data && !workloadAdmin && (
            <Alert color="yellow" variant="light" data-test="workload-admin-only">
              {t('access.workloadAdminOnly', { role: me.data.role })}
            </Alert>
          )}
          {kind === 'kubernetes' && (
            <TextInput
              label={t('wizard.image')}
              description={t('wizard.imageHint')}
              placeholder="kubesphere/examples-bookinfo-reviews-v2:1.16.2"
              value={draft.image}
              onChange={(e) => patch({ image: e.currentTarget.value })}
              data-test="release-image"
            />
          )}
          {kind === 'endpoints' && (
            <TextInput
              label={t('wizard.addresses')}
              description={t('wizard.addressesHint')}
              placeholder="127.0.0.1:9082"
              value={draft.addresses}
              onChange={(e) => patch({ addresses: e.currentTarget.value })}
              error={error === 'wizard.needAddresses' ? t(error) : undefined}
              data-test="release-addresses"
            />
          )}
          {kind === 'process' && (
            <SimpleGrid cols={2}>
              <TextInput
                label={t('wizard.command')}
                description={t('wizard.commandHint')}
                placeholder={baselineProcess?.command}
                value={draft.command}
                onChange={(e) => patch({ command: e.currentTarget.value })}
                data-test="release-command"
              />
              <TextInput
                label={t('wizard.args')}
                description={t('wizard.argsHint')}
                placeholder={baselineProcess?.args.join(' ')}
                value={draft.args}
                onChange={(e) => patch({ args: e.currentTarget.value })}
                data-test="release-args"
              />
            </SimpleGrid>
          )}
          {kind !== 'endpoints' && (
            <Stack gap="xs">
              <Text size="sm" fw={500}>
                {t('wizard.env')}
              </Text>
              <Text size="xs" c="dimmed">
                {t('wizard.envHint')}
              </Text>
              {draft.env.map((p, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: rows have no identity beyond their position
                <Group key={i} gap="xs" wrap="nowrap" data-test="env-row">
                  <TextInput
                    aria-label={t('wizard.envName')}
                    placeholder={t('wizard.envName')}
                    value={p.key}
                    onChange={(e) => setEnv(i, { key: e.currentTarget.value })}
                    style={{ flex: 1 }}
                    data-test="env-key"
                  />
                  <TextInput
                    aria-label={t('wizard.envValue')}
                    placeholder={t('wizard.envValue')}
                    value={p.value}
                    onChange={(e) => setEnv(i, { value: e.currentTarget.value })}
                    style={{ flex: 1 }}
                    data-test="env-value"
                  />
                  <ActionIcon
                    variant="subtle"
                    color="red"
                    aria-label={t('wizard.remove')}
                    onClick={() => patch({ env: draft.env.filter((_, j) => j !== i) })}
                  >
                    ×
                  </ActionIcon>
                </Group>
              ))}
              {error === 'wizard.envKeyMissing' && (
                <Text size="xs" c="red">
                  {t(error)}
                </Text>
              )}
              <Button
                variant="light"
                size="xs"
                w="fit-content"
                onClick={() => patch({ env: [...draft.env, { key: '', value: '' }] })}
                data-test="env-add"
              >
                {t('wizard.addEnv')}
              </Button>
            </Stack>
          )}
        </>
      )}
    </Stack>
  );
}

function StrategyStep({ draft, patch, error }: StepProps) {
  const { t } = useTranslation();
  const setCond = (i: number, p: Partial<MatchCondition>) =>
    patch({ conditions: draft.conditions.map((c, j) => (j === i ? { ...c, ...p } : c)) });
  const preview = useMemo(() => buildRelease(draft, undefined).traffic, [draft]);
  return (
    <Stack mt="md">
      <Radio.Group value={draft.strategy} onChange={(v) => patch({ strategy: v as ReleaseDraft['strategy'] })} label={t('wizard.strategy')}>
        <Group mt="xs">
          <Radio value="weights" label={t('wizard.byWeight')} data-test="strategy-weights" />
          <Radio value="match" label={t('wizard.byRequest')} data-test="strategy-match" />
        </Group>
      </Radio.Group>
      {draft.strategy === 'weights' ? (
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
      ) : (
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
      <div>
        <Text size="sm" fw={500} mb={4}>
          {t('wizard.preview')}
        </Text>
        <Code block data-test="traffic-preview">
          {toYaml({ traffic: preview })}
        </Code>
      </div>
    </Stack>
  );
}
