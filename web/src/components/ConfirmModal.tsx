import { Button, Group, Modal, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';

/** Every action that moves traffic or removes a workload asks first, saying what will happen. */
export function ConfirmModal(props: {
  opened: boolean;
  title: string;
  body: ReactNode;
  confirmLabel: string;
  color?: string;
  loading?: boolean;
  onConfirm: () => void;
  onClose: () => void;
  children?: ReactNode;
}) {
  const { t } = useTranslation();
  return (
    <Modal opened={props.opened} onClose={props.onClose} title={props.title} centered data-test="confirm-modal">
      <Text size="sm" mb="md">
        {props.body}
      </Text>
      {props.children}
      <Group justify="flex-end" mt="md">
        <Button variant="default" onClick={props.onClose} data-test="confirm-cancel">
          {t('common.cancel')}
        </Button>
        <Button color={props.color ?? 'blue'} loading={props.loading} onClick={props.onConfirm} data-test="confirm-ok">
          {props.confirmLabel}
        </Button>
      </Group>
    </Modal>
  );
}
