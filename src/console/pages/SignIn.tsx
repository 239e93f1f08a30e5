import { useState } from 'react';
import { Button, Card, Form, Input, Typography } from 'antd';
import { api, session, type Whoami } from '../api';
import { Problem } from '../components/Problem';
import { useI18n } from '../i18n';

/** Sign-in with an API key: checked against GET /v1/whoami, kept in this tab's session storage only. */
export function SignIn({ onSignedIn }: { onSignedIn(who: Whoami): void }) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async ({ key }: { key: string }) => {
    setBusy(true);
    setError(null);
    try {
      const who = await api.whoami(key.trim());
      session.set(key.trim());
      onSignedIn(who);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <Card style={{ width: 440 }}>
        <Typography.Title level={1} style={{ fontSize: 24 }}>
          {t('appName')}
        </Typography.Title>
        <Typography.Paragraph type="secondary">{t('signInHint')}</Typography.Paragraph>
        <Problem error={error} />
        <Form layout="vertical" onFinish={submit} requiredMark={false}>
          <Form.Item label={t('apiKey')} name="key" rules={[{ required: true, message: t('apiKeyRequired') }]}>
            <Input.Password autoComplete="off" placeholder="qk_…" data-testid="api-key" />
          </Form.Item>
          <Button type="primary" htmlType="submit" loading={busy} block data-testid="sign-in">
            {t('signIn')}
          </Button>
        </Form>
      </Card>
    </main>
  );
}
