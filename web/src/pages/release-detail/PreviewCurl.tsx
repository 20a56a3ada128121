import { Button, Code, CopyButton, Group, Stack, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useDemoTrafficState } from '../../api/observability.js';
import type { Release, Service } from '../../api/types.js';

const ingressKey = 'canary.ingress';

/** `canary up` puts the ingress on port 8000 of the same host; the demo says exactly where. */
function defaultIngress(demoUrl: string | null | undefined): string {
  if (demoUrl) {
    try {
      return new URL(demoUrl).origin;
    } catch {
      // fall through to the default
    }
  }
  return `http://${window.location.hostname || '127.0.0.1'}:8000`;
}

/** Shell single quotes: the value as one word, whatever it holds. */
const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** How to reach the candidate before (or without) it getting ordinary traffic: a copyable curl with the preview header. */
export function PreviewCurl({ release, service }: { release: Release; service: Service | undefined }) {
  const { t } = useTranslation();
  const demo = useDemoTrafficState();
  const [typed, setTyped] = useState<string | null>(() => localStorage.getItem(ingressKey));
  const ingress = (typed ?? defaultIngress(demo.data?.url)).replace(/\/+$/, '');
  const header = release.preview?.header ?? 'x-canary-preview';
  const path = service?.ingress?.paths?.[0] ?? '/';
  const command = `curl -i -H ${quote(`${header}: ${release.candidate.name}`)} ${quote(`${ingress}${path}`)}`;
  const setIngress = (v: string) => {
    setTyped(v);
    localStorage.setItem(ingressKey, v);
  };
  return (
    <Stack gap="xs" data-test="preview">
      <Title order={3} size="h4">
        {t('preview.title')}
      </Title>
      <Text size="sm">{t('preview.hint', { header, candidate: release.candidate.name })}</Text>
      <Group align="flex-end" gap="xs">
        <TextInput
          label={t('preview.ingress')}
          description={t('preview.ingressHint')}
          value={ingress}
          onChange={(e) => setIngress(e.currentTarget.value)}
          w={320}
          data-test="preview-ingress"
        />
      </Group>
      <Group gap="xs" wrap="nowrap" align="flex-start">
        <Code block style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-test="preview-curl">
          {command}
        </Code>
        <CopyButton value={command}>
          {({ copied, copy }) => (
            <Button size="xs" variant="light" color={copied ? 'teal' : 'blue'} onClick={copy} data-test="preview-copy">
              {copied ? t('common.copied') : t('common.copy')}
            </Button>
          )}
        </CopyButton>
      </Group>
      {service && !service.ingress?.paths?.length && (
        <Text size="xs" c="dimmed" data-test="preview-no-ingress">
          {t('preview.noIngress', { service: release.service })}
        </Text>
      )}
    </Stack>
  );
}
