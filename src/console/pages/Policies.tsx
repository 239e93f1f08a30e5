import { useEffect, useState } from 'react';
import { App, Button, Card, Col, Input, InputNumber, Row, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import { api, may, type Condition, type PolicyStep, type PolicySummary, type Whoami } from '../api';
import { ConditionEditor } from '../components/ConditionEditor';
import { Problem } from '../components/Problem';
import { useI18n } from '../i18n';
import { useConditionRefs } from './SegmentBuilder';

const STEP_TYPES = ['list', 'recentContact', 'hasProduct', 'condition', 'upload'] as const;

function newStep(type: (typeof STEP_TYPES)[number]): PolicyStep {
  switch (type) {
    case 'list':
      return { type, list: 'blacklist' };
    case 'recentContact':
      return { type, days: 7, sameCategory: false };
    case 'hasProduct':
      return { type };
    case 'condition':
      return { type, condition: { all: [{ field: 'status', op: 'ne', value: 'active' }] } };
    case 'upload':
      return { type, listId: '' };
  }
}

/** 剔除策略: ordered exclusion steps, dragged (or moved with buttons) into order, saved as a new version. */
export function Policies({ who }: { who: Whoami }) {
  const { t, date } = useI18n();
  const { message } = App.useApp();
  const { refs } = useConditionRefs();
  const [policies, setPolicies] = useState<PolicySummary[] | null>(null);
  const [name, setName] = useState('default');
  const [steps, setSteps] = useState<PolicyStep[]>([]);
  const [description, setDescription] = useState<string>('');
  const [version, setVersion] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [dragging, setDragging] = useState<number | null>(null);
  const [newName, setNewName] = useState('');
  const editable = may(who.role, 'operator');

  const loadList = () => api.policies().then((p) => setPolicies(p.policies), setError);
  useEffect(() => void loadList(), []);
  useEffect(() => {
    api.policy(name).then(
      (p) => {
        setSteps(p.steps as PolicyStep[]);
        setDescription(p.description ?? '');
        setVersion(p.version);
        setError(null);
      },
      // A policy being created has no version yet: start from one blacklist step.
      () => {
        setSteps([newStep('list')]);
        setDescription('');
        setVersion(null);
      },
    );
  }, [name]);

  const move = (from: number, to: number) => {
    if (to < 0 || to >= steps.length || from === to) return;
    const next = [...steps];
    const [step] = next.splice(from, 1);
    next.splice(to, 0, step!);
    setSteps(next);
  };
  const update = (i: number, step: PolicyStep) => setSteps(steps.map((s, j) => (j === i ? step : s)));

  const save = async () => {
    setError(null);
    try {
      const saved = await api.savePolicy(name, { description: description || null, steps });
      setVersion(saved.version);
      message.success(t('policySaved', String(saved.version)));
      void loadList();
    } catch (e) {
      setError(e);
    }
  };

  const customLists = (refs?.lists ?? []).filter((l) => l.kind === 'custom');
  return (
    <Row gutter={16}>
      <Col xs={24} xl={8}>
        <Card size="small" title={t('nav_policies')}>
          <Table<PolicySummary>
            size="small"
            rowKey="name"
            loading={policies === null}
            pagination={false}
            dataSource={policies ?? []}
            rowClassName={(p) => (p.name === name ? 'ant-table-row-selected' : '')}
            columns={[
              { title: t('name'), dataIndex: 'name', render: (n: string) => <a onClick={() => setName(n)}>{n}</a> },
              { title: t('steps'), dataIndex: 'steps', align: 'right' },
              { title: t('version'), dataIndex: 'version', align: 'right' },
              { title: t('updatedAt'), dataIndex: 'updatedAt', render: date },
            ]}
          />
          {editable && (
            <Space style={{ marginTop: 12 }}>
              <Input aria-label={t('newPolicy')} placeholder={t('newPolicy')} value={newName} onChange={(e) => setNewName(e.target.value)} />
              <Button disabled={!newName.trim()} onClick={() => (setName(newName.trim()), setNewName(''))}>
                {t('create')}
              </Button>
            </Space>
          )}
        </Card>
      </Col>
      <Col xs={24} xl={16}>
        <Card size="small" title={`${name}${version ? ` v${version}` : ` (${t('unsaved')})`}`}>
          <Problem error={error} onClose={() => setError(null)} />
          <Input aria-label={t('description')} placeholder={t('description')} value={description} disabled={!editable} onChange={(e) => setDescription(e.target.value)} style={{ marginBottom: 12 }} />
          <Typography.Paragraph type="secondary">{t('stepsHint')}</Typography.Paragraph>
          <ol style={{ listStyle: 'none', padding: 0, margin: 0 }} aria-label={t('steps')}>
            {steps.map((step, i) => (
              <li
                key={i}
                className={`policy-step${dragging === i ? ' dragging' : ''}`}
                draggable={editable}
                onDragStart={() => setDragging(i)}
                onDragEnd={() => setDragging(null)}
                onDragOver={(e) => e.preventDefault()}
                onDrop={() => dragging !== null && (move(dragging, i), setDragging(null))}
              >
                <Tag>{i + 1}</Tag>
                <div style={{ flex: 1 }}>
                  <StepEditor step={step} onChange={(s) => update(i, s)} disabled={!editable} lists={refs?.lists.map((l) => ({ value: l.name, label: `${l.label}（${l.name}）` })) ?? []} customLists={customLists.map((l) => ({ value: l.name, label: l.label }))} refs={refs} />
                </div>
                {editable && (
                  <Space size={4}>
                    <Button size="small" aria-label={`${t('moveUp')} ${i + 1}`} disabled={i === 0} onClick={() => move(i, i - 1)}>
                      ↑
                    </Button>
                    <Button size="small" aria-label={`${t('moveDown')} ${i + 1}`} disabled={i === steps.length - 1} onClick={() => move(i, i + 1)}>
                      ↓
                    </Button>
                    <Button size="small" danger onClick={() => setSteps(steps.filter((_, j) => j !== i))}>
                      {t('remove')}
                    </Button>
                  </Space>
                )}
              </li>
            ))}
          </ol>
          {editable && (
            <Space style={{ marginTop: 12 }}>
              <Select
                aria-label={t('addStep')}
                placeholder={t('addStep')}
                value={null}
                style={{ width: 200 }}
                onChange={(type: (typeof STEP_TYPES)[number]) => setSteps([...steps, newStep(type)])}
                options={STEP_TYPES.map((s) => ({ value: s, label: t(`step_${s}`) }))}
              />
              <Button type="primary" onClick={save}>
                {t('savePolicy')}
              </Button>
            </Space>
          )}
        </Card>
      </Col>
    </Row>
  );
}

function StepEditor({
  step,
  onChange,
  disabled,
  lists,
  customLists,
  refs,
}: {
  step: PolicyStep;
  onChange(s: PolicyStep): void;
  disabled: boolean;
  lists: Array<{ value: string; label: string }>;
  customLists: Array<{ value: string; label: string }>;
  refs: ReturnType<typeof useConditionRefs>['refs'];
}) {
  const { t } = useI18n();
  const title = <strong style={{ marginRight: 8 }}>{t(`step_${step.type}`)}</strong>;
  switch (step.type) {
    case 'list':
      return (
        <Space wrap>
          {title}
          <Select aria-label={t('list')} disabled={disabled} value={step.list} style={{ width: 220 }} onChange={(list: string) => onChange({ ...step, list })} options={lists} />
        </Space>
      );
    case 'recentContact':
      return (
        <Space wrap>
          {title}
          <InputNumber aria-label={t('days')} disabled={disabled} min={1} max={3650} value={step.days} onChange={(d) => onChange({ ...step, days: d ?? 1 })} />
          <span>{t('days')}</span>
          <Switch aria-label={t('sameCategory')} disabled={disabled} checked={step.sameCategory} onChange={(sameCategory) => onChange({ ...step, sameCategory })} />
          <span>{t('sameCategory')}</span>
        </Space>
      );
    case 'hasProduct':
      return (
        <Space>
          {title}
          <Typography.Text type="secondary">{t('hasProductHint')}</Typography.Text>
        </Space>
      );
    case 'condition':
      return (
        <div>
          {title}
          <Input aria-label={t('label')} disabled={disabled} placeholder={t('label')} value={step.label ?? ''} onChange={(e) => onChange({ ...step, label: e.target.value || undefined })} style={{ width: 200, marginBottom: 6 }} />
          {refs && <ConditionEditor value={step.condition as Condition} onChange={(condition) => onChange({ ...step, condition })} refs={refs} dataset="customers" path="condition" />}
        </div>
      );
    case 'upload':
      return (
        <Space wrap>
          {title}
          <Select aria-label={t('list')} disabled={disabled} value={step.listId || null} style={{ width: 220 }} onChange={(listId: string) => onChange({ ...step, listId })} options={customLists} />
        </Space>
      );
  }
}
