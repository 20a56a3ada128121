import { Badge } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { ReleaseStrategy } from '../api/types.js';

const colors: Record<ReleaseStrategy, string> = { canary: 'yellow', blueGreen: 'blue', mirror: 'grape' };

/** The release's mode, as the mode cards name it. */
export function StrategyBadge({ strategy = 'canary' }: { strategy?: ReleaseStrategy }) {
  const { t } = useTranslation();
  return (
    <Badge color={colors[strategy] ?? 'gray'} variant="outline" tt="none" data-test="release-strategy" data-strategy={strategy}>
      {t(`modes.${strategy}.title`, { defaultValue: strategy })}
    </Badge>
  );
}
