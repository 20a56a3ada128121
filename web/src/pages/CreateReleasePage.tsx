import { Button, Card, Group, Stack, Stepper, Text, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useSearchParams } from 'react-router';
import { useCreateRelease } from '../api/releases.js';
import { useServices } from '../api/services.js';
import type { ReleaseStrategy } from '../api/types.js';
import { useCan } from '../api/whoami.js';
import { ReadOnlyNotice } from '../components/ReadOnlyNotice.js';
import { buildRelease, emptyDraft, type ReleaseDraft } from '../release/build-release.js';
import { BasicStep } from './create-release/BasicStep.js';
import { BlueGreenStep } from './create-release/BlueGreenStep.js';
import { CanaryStep } from './create-release/CanaryStep.js';
import { MirrorStep } from './create-release/MirrorStep.js';
import { ServiceStep } from './create-release/ServiceStep.js';
import { stepProblems } from './create-release/step-problems.js';
import { VersionStep } from './create-release/VersionStep.js';

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

/** The mode card that opened the wizard (`?mode=`); anything else is a canary. */
function modeOf(raw: string | null): ReleaseStrategy {
  return raw === 'blueGreen' || raw === 'mirror' ? raw : 'canary';
}

/** The last step per mode: its label and what it draws. */
const lastStep = {
  canary: { label: 'wizard.stepStrategy', Step: CanaryStep },
  blueGreen: { label: 'wizard.stepSwitch', Step: BlueGreenStep },
  mirror: { label: 'wizard.stepMirror', Step: MirrorStep },
};

export function CreateReleasePage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const step = Math.min(Math.max(Number(params.get('step') ?? 0) || 0, 0), 3);
  const mode = modeOf(params.get('mode'));
  const [stored, setDraft] = useState<ReleaseDraft>(loadDraft);
  const draft: ReleaseDraft = { ...stored, mode };
  const [touched, setTouched] = useState(false);
  const services = useServices();
  const create = useCreateRelease();
  const canCreate = useCan('releases:write');
  const service = services.data?.find((s) => s.name === draft.service);

  useEffect(() => {
    sessionStorage.setItem(draftKey, JSON.stringify(stored));
  }, [stored]);

  const patch = (p: Partial<ReleaseDraft>) => setDraft((d) => ({ ...d, ...p }));
  const problems = stepProblems(draft, service);
  // `showProblem`: arriving at a step because Create found it incomplete shows why at once.
  const goTo = (s: number, showProblem = false) => {
    setTouched(showProblem);
    setParams(mode === 'canary' ? { step: String(s) } : { mode, step: String(s) });
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
      goTo(firstBad, true);
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
  const { label: lastLabel, Step: LastStep } = lastStep[mode];

  return (
    <Stack>
      <div>
        <Title order={2} data-test="wizard-title">
          {t(`wizard.title.${mode}`)}
        </Title>
        <Text c="dimmed" size="sm">
          {t(`wizard.subtitle.${mode}`)}
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
          <Stepper.Step label={t(lastLabel)} data-test="step-strategy">
            <LastStep draft={draft} patch={patch} error={problem} />
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
