import { Badge } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import type { ReleasePhase } from '../api/types.js';

const colors: Record<ReleasePhase, string> = {
  Pending: 'gray',
  Progressing: 'blue',
  TakenOver: 'teal',
  RolledBack: 'orange',
  Failed: 'red',
};

export function PhaseBadge({ phase }: { phase: ReleasePhase }) {
  const { t } = useTranslation();
  return (
    <Badge color={colors[phase] ?? 'gray'} variant="light" data-test="release-phase" data-phase={phase}>
      {t(`phase.${phase}`, { defaultValue: phase })}
    </Badge>
  );
}
