import type { ReleaseDraft } from '../../release/build-release.js';

/** What every step of the create wizard gets: the draft, a way to change it, the step's problem (an i18n key). */
export interface StepProps {
  draft: ReleaseDraft;
  patch: (p: Partial<ReleaseDraft>) => void;
  error: string | null;
}
