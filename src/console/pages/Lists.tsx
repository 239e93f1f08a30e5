import { useEffect, useState } from 'react';
import { App, Button, Card, Col, DatePicker, Form, Input, InputNumber, Popconfirm, Row, Space, Table, Tag, Upload } from 'antd';
import type { Dayjs } from 'dayjs';
import { api, may, type ListEntries, type SpecialList, type Whoami } from '../api';
import { LoadMore } from '../components/LoadMore';
import { Problem } from '../components/Problem';
import { usePaged } from '../components/usePaged';
import { useI18n } from '../i18n';

type Entry = ListEntries['entries'][number];

/** 特殊名单: the lists with their counts; one list's entries by page, a number looked up, added, uploaded or removed. */
export function Lists({ who }: { who: Whoami }) {
  const { t } = useI18n();
  const [lists, setLists] = useState<SpecialList[] | null>(null);
  const [selected, setSelected] = useState<string>('blacklist');
  const [error, setError] = useState<unknown>(null);
  const load = () => api.lists().then((l) => setLists(l.lists), setError);
  useEffect(() => void load(), []);

  return (
    <>
      <Problem error={error} onClose={() => setError(null)} />
      <Row gutter={16}>
        <Col xs={24} xl={9}>
          <Card size="small" title={t('nav_lists')}>
            <Table<SpecialList>
              size="small"
              rowKey="name"
              loading={lists === null}
              pagination={false}
              dataSource={lists ?? []}
              onRow={(l) => ({ onClick: () => setSelected(l.name), style: { cursor: 'pointer' } })}
              rowClassName={(l) => (l.name === selected ? 'ant-table-row-selected' : '')}
              columns={[
                { title: t('list'), dataIndex: 'label', render: (label: string, l) => <a onClick={() => setSelected(l.name)}>{label}</a> },
                { title: t('entries'), dataIndex: 'entries', align: 'right' },
                { title: t('expired'), dataIndex: 'expired', align: 'right' },
                { title: t('defaultExpiry'), dataIndex: 'defaultExpiryDays', render: (d: number | null) => (d ? `${d} ${t('days')}` : '—') },
              ]}
            />
          </Card>
          {may(who.role, 'operator') && <CreateList onCreated={load} />}
        </Col>
        <Col xs={24} xl={15}>{lists && <ListEntriesCard key={selected} list={lists.find((l) => l.name === selected) ?? lists[0]!} who={who} onChanged={load} />}</Col>
      </Row>
    </>
  );
}

function ListEntriesCard({ list, who, onChanged }: { list: SpecialList; who: Whoami; onChanged(): void }) {
  const { t, date } = useI18n();
  const { message } = App.useApp();
  const [search, setSearch] = useState('');
  const [error, setError] = useState<unknown>(null);
  const paged = usePaged<Entry>(
    async (cursor) => {
      const page = await api.entries(list.name, { cursor, limit: 20, msisdn: search || undefined });
      return { rows: page.entries, nextCursor: page.nextCursor };
    },
    [list.name, search],
  );
  const operator = may(who.role, 'operator');

  const changed = (text: string) => {
    message.success(text);
    paged.reload();
    onChanged();
  };

  const add = async (values: { msisdns: string; reason?: string; expiresAt?: Dayjs | null }) => {
    setError(null);
    try {
      const msisdns = values.msisdns.split(/[\s,，;]+/).filter(Boolean);
      const answer = await api.addEntries(list.name, { msisdns, ...(values.reason ? { reason: values.reason } : {}), ...(values.expiresAt ? { expiresAt: values.expiresAt.endOf('day').format() } : {}) });
      changed(t('listAdded', String(answer.added), String(answer.updated)));
    } catch (e) {
      setError(e);
    }
  };

  const upload = async (file: File) => {
    setError(null);
    try {
      const answer = await api.uploadEntries(list.name, file, {});
      changed(t('listUploaded', String(answer.numbers), String(answer.file.malformed.count)));
    } catch (e) {
      setError(e);
    }
    return false;
  };

  return (
    <Card size="small" title={`${list.label}（${list.name}）`}>
      <Problem error={error ?? paged.error} onClose={() => setError(null)} />
      <Input.Search aria-label={t('searchNumber')} placeholder={t('searchNumber')} allowClear enterButton={t('search')} onSearch={(v) => setSearch(v.trim())} style={{ width: 320, marginBottom: 12 }} />
      <Table<Entry>
        size="small"
        rowKey={(e) => `${e.msisdn}-${e.createdAt}`}
        loading={paged.loading}
        pagination={false}
        dataSource={paged.rows}
        locale={{ emptyText: search ? t('notOnList') : undefined }}
        columns={[
          { title: t('col_msisdn'), dataIndex: 'msisdn' },
          { title: t('reason'), dataIndex: 'reason' },
          { title: t('source'), dataIndex: 'source' },
          { title: t('updatedBy'), dataIndex: 'updatedBy' },
          { title: t('expiresAt'), dataIndex: 'expiresAt', render: (d: string | null, e) => (d ? <span>{date(d)} {e.expired && <Tag color="warning">{t('expired')}</Tag>}</span> : t('never')) },
          ...(operator
            ? [
                {
                  title: t('actions'),
                  key: 'actions',
                  // Other roles see the number masked: they remove the one they searched for, whole.
                  render: (_: unknown, e: Entry) =>
                    who.role === 'admin' || search ? (
                      <Popconfirm title={t('confirmDelete')} onConfirm={() => api.removeEntry(list.name, who.role === 'admin' ? e.msisdn : search).then(() => changed(t('deleted')), setError)}>
                        <Button size="small" danger>
                          {t('remove')}
                        </Button>
                      </Popconfirm>
                    ) : null,
                },
              ]
            : []),
        ]}
      />
      <LoadMore paged={paged} />
      {operator && (
        <Card size="small" type="inner" title={t('addNumbers')} style={{ marginTop: 12 }}>
          <Form layout="vertical" onFinish={add}>
            <Form.Item name="msisdns" label={t('numbers')} rules={[{ required: true }]}>
              <Input.TextArea rows={2} placeholder="13800138000, 13900139000" />
            </Form.Item>
            <Space wrap align="end">
              <Form.Item name="reason" label={t('reason')}>
                <Input style={{ width: 220 }} />
              </Form.Item>
              <Form.Item name="expiresAt" label={t('expiresAt')}>
                <DatePicker />
              </Form.Item>
              <Form.Item>
                <Button type="primary" htmlType="submit">
                  {t('add')}
                </Button>
              </Form.Item>
              <Form.Item>
                <Upload beforeUpload={upload} showUploadList={false} accept=".txt,.csv">
                  <Button>{t('uploadFile')}</Button>
                </Upload>
              </Form.Item>
            </Space>
          </Form>
        </Card>
      )}
    </Card>
  );
}

function CreateList({ onCreated }: { onCreated(): void }) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>(null);
  const [form] = Form.useForm();
  const submit = async (v: { name: string; label: string; defaultExpiryDays?: number }) => {
    setError(null);
    try {
      await api.createList({ name: v.name, label: v.label, defaultExpiryDays: v.defaultExpiryDays ?? null });
      form.resetFields();
      onCreated();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Card size="small" title={t('createList')} style={{ marginTop: 16 }}>
      <Problem error={error} />
      <Form form={form} layout="vertical" onFinish={submit}>
        <Form.Item name="name" label={t('listName')} rules={[{ required: true }]}>
          <Input placeholder="vip_exclusions" />
        </Form.Item>
        <Form.Item name="label" label={t('listLabel')} rules={[{ required: true }]}>
          <Input />
        </Form.Item>
        <Form.Item name="defaultExpiryDays" label={t('defaultExpiry')}>
          <InputNumber min={1} max={36500} />
        </Form.Item>
        <Button htmlType="submit">{t('create')}</Button>
      </Form>
    </Card>
  );
}
