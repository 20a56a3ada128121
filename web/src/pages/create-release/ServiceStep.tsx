import { Alert, Select, Stack } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { Service } from '../../api/types.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { nextVersionName } from '../../release/build-release.js';
import type { StepProps } from './step-props.js';

export function ServiceStep({ draft, patch, services, error, loadError }: StepProps & { services: Service[]; loadError: unknown }) {
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
