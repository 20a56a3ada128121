import { Alert } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useCan, useWhoAmI } from '../api/whoami.js';

/** Says, once per page, that the signed-in role may look but not change; the page disables the actions themselves. */
export function ReadOnlyNotice({ permission }: { permission: string }) {
  const { t } = useTranslation();
  const me = useWhoAmI();
  const can = useCan(permission);
  if (!me.data || can) return null;
  return (
    <Alert color="gray" variant="light" data-test="read-only-notice">
      {t('access.readOnly', { role: me.data.role })}
    </Alert>
  );
}
