import { SegmentedControl } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { type Language, setLanguage } from '../i18n/i18n.js';

export function LanguageSwitch() {
  const { i18n, t } = useTranslation();
  return (
    <SegmentedControl
      size="xs"
      aria-label={t('nav.language')}
      value={i18n.language === 'zh-CN' ? 'zh-CN' : 'en'}
      onChange={(v) => setLanguage(v as Language)}
      data={[
        { value: 'en', label: <span data-test="lang-en">English</span> },
        { value: 'zh-CN', label: <span data-test="lang-zh">中文</span> },
      ]}
      data-test="language-switch"
    />
  );
}
