import { Select } from '@mantine/core';
import { type ReactNode, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { type ReleaseAction, useReleaseAction } from '../../api/releases.js';
import type { Release } from '../../api/types.js';
import { ConfirmModal } from '../../components/ConfirmModal.js';
import { pushToast } from '../../components/notifications.js';
import { configuredShare, releaseVersions } from '../../release/traffic-share.js';

/**
 * Every action on a release asks first and says what will happen, in the words of the release's mode
 * (a blue-green take over is a switch, a roll back a switch back). `ask` opens the confirmation; `modal` draws it.
 */
export function useConfirmedAction(release: Release, defaultKeep: string): { ask: (a: ReleaseAction) => void; modal: ReactNode } {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const action = useReleaseAction(release.name);
  const [pending, setPending] = useState<ReleaseAction | null>(null);
  const versions = releaseVersions(release);
  const share = configuredShare(release);
  const mode = release.strategy ?? 'canary';
  const v = { baseline: release.baseline, candidate: release.candidate.name };
  const other = (x: string) => versions.filter((y) => y !== x).join(', ');

  const describe = (a: ReleaseAction): { title: string; body: string; color: string; done: string } => {
    switch (a.kind) {
      case 'takeover':
        if (mode === 'blueGreen')
          return {
            title: t('blueGreen.switchTitle', { version: a.version }),
            body: t('blueGreen.switchBody', v),
            color: 'teal',
            done: t('blueGreen.switchDone', v),
          };
        if (mode === 'mirror')
          return {
            title: t('mirror.takeoverTitle', v),
            body: t('mirror.takeoverBody', v),
            color: 'teal',
            done: t('detail.takeoverDone', { version: a.version }),
          };
        return {
          title: t('detail.takeoverTitle', { version: a.version }),
          body: t('detail.takeoverBody', { version: a.version, other: other(a.version) }),
          color: 'teal',
          done: t('detail.takeoverDone', { version: a.version }),
        };
      case 'rollback':
        if (mode === 'blueGreen')
          return {
            title: t('blueGreen.switchBackTitle', v),
            body: t('blueGreen.switchBackBody', v),
            color: 'orange',
            done: t('detail.rollbackDone', v),
          };
        return { title: t('detail.rollbackTitle'), body: t('detail.rollbackBody', v), color: 'orange', done: t('detail.rollbackDone', v) };
      case 'resume':
        return {
          title: t('detail.resumeTitle'),
          body: t('detail.resumeBody', { split: versions.map((x) => `${x} ${share[x] ?? 0}%`).join(' / ') }),
          color: 'blue',
          done: t('detail.resumeDone'),
        };
      case 'finish':
        return {
          title: t('detail.finishTitle', { version: a.keep }),
          body: t('detail.finishBody', { keep: a.keep, other: other(a.keep) }),
          color: 'red',
          done: t('detail.finishDone', { version: a.keep }),
        };
    }
  };

  const confirm = () => {
    if (!pending) return;
    const said = describe(pending);
    action.mutate(pending, {
      onSuccess: () => {
        pushToast({ color: 'green', title: t('detail.done'), message: said.done, details: [] });
        if (pending.kind === 'finish') navigate('/releases?tab=jobs');
        setPending(null);
      },
    });
  };
  const d = pending ? describe(pending) : null;
  const modal = (
    <ConfirmModal
      opened={!!pending}
      title={d?.title ?? ''}
      body={d?.body ?? ''}
      color={d?.color}
      confirmLabel={t('common.confirm')}
      loading={action.isPending}
      onClose={() => setPending(null)}
      onConfirm={confirm}
    >
      {pending?.kind === 'finish' && (
        <Select
          label={t('detail.keep')}
          data={versions}
          value={pending.keep}
          onChange={(x) => setPending({ kind: 'finish', keep: x ?? defaultKeep })}
          data-test="finish-keep"
          comboboxProps={{ withinPortal: true }}
        />
      )}
    </ConfirmModal>
  );
  return { ask: setPending, modal };
}
