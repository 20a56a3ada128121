import { Code, Text } from '@mantine/core';
import { useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { toYaml } from '../../components/to-yaml.js';
import { buildRelease, type ReleaseDraft } from '../../release/build-release.js';

/** The part of the request body the last step decides, as YAML: what Create will send. */
export function SentPreview({ draft }: { draft: ReleaseDraft }) {
  const { t } = useTranslation();
  const sent = useMemo(() => {
    const body = buildRelease(draft, undefined);
    if (body.strategy === 'canary') return { traffic: body.traffic };
    return {
      strategy: body.strategy,
      ...(body.traffic ? { traffic: body.traffic } : {}),
      ...(body.compare ? { compare: body.compare } : {}),
    };
  }, [draft]);
  return (
    <div>
      <Text size="sm" fw={500} mb={4}>
        {t(draft.mode === 'canary' ? 'wizard.preview' : 'wizard.previewSent')}
      </Text>
      <Code block data-test="traffic-preview">
        {toYaml(sent)}
      </Code>
    </div>
  );
}
