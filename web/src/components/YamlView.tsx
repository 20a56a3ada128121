import { Button, Code, CopyButton, Group, ScrollArea } from '@mantine/core';
import { useTranslation } from 'react-i18next';

/** Read-only YAML with copy and download. */
export function YamlView({ yaml, fileName, test }: { yaml: string; fileName: string; test?: string }) {
  const { t } = useTranslation();
  const download = () => {
    const url = URL.createObjectURL(new Blob([yaml], { type: 'text/yaml' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = fileName;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  return (
    <div>
      <Group gap="xs" mb="xs" justify="flex-end">
        <CopyButton value={yaml}>
          {({ copied, copy }) => (
            <Button size="xs" variant="light" color={copied ? 'teal' : 'blue'} onClick={copy} data-test="yaml-copy">
              {copied ? t('common.copied') : t('common.copy')}
            </Button>
          )}
        </CopyButton>
        <Button size="xs" variant="light" onClick={download} data-test="yaml-download">
          {t('common.download')}
        </Button>
      </Group>
      <ScrollArea.Autosize mah={520} type="auto">
        <Code block data-test={test ?? 'yaml'} style={{ fontSize: 12 }}>
          {yaml}
        </Code>
      </ScrollArea.Autosize>
    </div>
  );
}
