import { Loader } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useIstioManifests } from '../../api/services.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { YamlView } from '../../components/YamlView.js';

export function ReleaseIstio({ service }: { service: string }) {
  const { t } = useTranslation();
  const yaml = useIstioManifests(service, 3000);
  if (yaml.error) return <ErrorAlert error={yaml.error} />;
  if (yaml.data === undefined) return <Loader size="sm" aria-label={t('common.loading')} />;
  return <YamlView yaml={yaml.data} fileName={`${service}-istio.yaml`} test="istio-yaml" />;
}
