import { useEffect, useState } from 'react';
import { Alert, Button, Card, DatePicker, Form, Input, Popconfirm, Select, Table, Tag, Typography } from 'antd';
import type { Dayjs } from 'dayjs';
import { api, type ApiKey, type CreatedKey, type Role } from '../api';
import { Problem } from '../components/Problem';
import { useI18n } from '../i18n';

const ROLES: Role[] = ['analyst', 'operator', 'scheduler', 'admin'];

/** API 密钥 (admins): every key without its secret; a new key shown once; revocation at once. */
export function Keys() {
  const { t, date } = useI18n();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [form] = Form.useForm();
  const load = () => api.keys().then((k) => setKeys(k.keys), setError);
  useEffect(() => void load(), []);

  const create = async (v: { name: string; role: Role; expiresAt?: Dayjs }) => {
    setError(null);
    try {
      setCreated(await api.createKey({ name: v.name, role: v.role, ...(v.expiresAt ? { expiresAt: v.expiresAt.format('YYYY-MM-DD') } : {}) }));
      form.resetFields();
      void load();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <Problem error={error} onClose={() => setError(null)} />
      <Card size="small" title={t('createKey')} style={{ marginBottom: 16 }}>
        <Form form={form} layout="inline" onFinish={create} initialValues={{ role: 'analyst' }}>
          <Form.Item name="name" label={t('name')} rules={[{ required: true }]}>
            <Input style={{ width: 200 }} />
          </Form.Item>
          <Form.Item name="role" label={t('role')}>
            <Select style={{ width: 140 }} options={ROLES.map((r) => ({ value: r, label: t(`role_${r}`) }))} />
          </Form.Item>
          <Form.Item name="expiresAt" label={t('expiresAt')}>
            <DatePicker />
          </Form.Item>
          <Button type="primary" htmlType="submit">
            {t('create')}
          </Button>
        </Form>
        {created && (
          <Alert
            style={{ marginTop: 12 }}
            type="warning"
            showIcon
            title={t('keyShownOnce')}
            description={<Typography.Text copyable code>{created.key}</Typography.Text>}
          />
        )}
      </Card>
      <Table<ApiKey>
        size="small"
        rowKey="id"
        loading={keys === null}
        dataSource={keys ?? []}
        pagination={{ pageSize: 50, hideOnSinglePage: true }}
        columns={[
          { title: t('name'), dataIndex: 'name' },
          { title: t('role'), dataIndex: 'role', render: (r: Role) => t(`role_${r}`) },
          { title: t('prefix'), dataIndex: 'prefix', render: (p: string) => <code>qk_{p}…</code> },
          { title: t('status'), dataIndex: 'status', render: (s: string) => <Tag color={s === 'active' ? 'success' : 'default'}>{t(`key_${s as 'active'}`)}</Tag> },
          { title: t('createdBy'), dataIndex: 'createdBy' },
          { title: t('lastUsedAt'), dataIndex: 'lastUsedAt', render: (d: string | null) => (d ? date(d) : '—') },
          { title: t('expiresAt'), dataIndex: 'expiresAt', render: (d: string | null) => (d ? date(d) : t('never')) },
          {
            title: t('actions'),
            key: 'actions',
            render: (_, k) =>
              k.status === 'active' ? (
                <Popconfirm title={t('confirmRevoke')} onConfirm={() => api.revokeKey(k.id).then(() => void load(), setError)}>
                  <Button size="small" danger>
                    {t('revoke')}
                  </Button>
                </Popconfirm>
              ) : null,
          },
        ]}
      />
    </>
  );
}
