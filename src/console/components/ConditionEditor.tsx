import { Button, Input, InputNumber, Select, Space, Tag, Tooltip } from 'antd';
import type { Column, Condition, Dataset, Rule, Segment, SpecialList } from '../api';
import { useI18n, type MessageKey } from '../i18n';

type Op = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'between' | 'in' | 'not_in' | 'is_null' | 'not_null' | 'starts_with' | 'contains';
type Scalar = string | number | boolean;
type Value = Scalar | Scalar[];

/** What the leaves may name: the saved rules, the special lists and the segments. */
export interface ConditionRefs {
  catalog: Dataset[];
  rules: Rule[];
  lists: SpecialList[];
  segments: Segment[];
}

const ORDER_OPS: Op[] = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'between', 'in', 'not_in'];
const AGGREGATE_FNS = ['avg', 'sum', 'min', 'max', 'count'] as const;

/** The operators the checker accepts for a column (src/conditions/check.ts), most useful first. */
export function opsFor(column: Column | undefined): Op[] {
  if (!column) return ['eq'];
  if (column.values) return ['eq', 'ne', 'in', 'not_in', 'is_null', 'not_null'];
  switch (column.type) {
    case 'boolean':
      return ['eq', 'ne', 'is_null', 'not_null'];
    case 'varchar':
      return ['eq', 'ne', 'in', 'not_in', 'starts_with', 'contains', 'is_null', 'not_null'];
    default:
      return [...ORDER_OPS, 'is_null', 'not_null'];
  }
}

const numeric = (c: Column | undefined) => c !== undefined && ['bigint', 'integer', 'decimal'].includes(c.type);

/** A value that fits the operator and column, so a freshly picked operator previews at once. */
function defaultValue(column: Column | undefined, op: Op): Value | undefined {
  if (op === 'is_null' || op === 'not_null') return undefined;
  const one: Scalar = column?.values?.[0] ?? (column?.type === 'boolean' ? true : numeric(column) ? 0 : column?.type === 'date' ? '2024-01-01' : '');
  if (op === 'between') return [one, one];
  if (op === 'in' || op === 'not_in') return [one];
  return one;
}

export const KINDS = ['field', 'all', 'any', 'exists', 'aggregate', 'rule', 'list', 'segment'] as const;
type Kind = (typeof KINDS)[number] | 'not';

function kindOf(node: Condition): Kind {
  if ('all' in node) return 'all';
  if ('any' in node) return 'any';
  if ('not' in node) return 'not';
  if ('field' in node) return 'field';
  if ('exists' in node) return 'exists';
  if ('aggregate' in node) return 'aggregate';
  if ('rule' in node) return 'rule';
  if ('segment' in node) return 'segment';
  return 'list';
}

function newNode(kind: (typeof KINDS)[number], refs: ConditionRefs, dataset: string): Condition {
  switch (kind) {
    case 'field': {
      const columns = refs.catalog.find((d) => d.name === dataset)?.columns ?? [];
      const column = columns.find((c) => c.values) ?? columns[0];
      return { field: column?.name ?? 'brand', op: 'eq', value: defaultValue(column, 'eq') as Scalar };
    }
    case 'all':
      return { all: [] };
    case 'any':
      return { any: [] };
    case 'exists':
      return { exists: { dataset: 'subscriptions' } };
    case 'aggregate':
      return { aggregate: { dataset: 'usage_monthly', fn: 'avg', field: 'data_mb', lastMonths: 3, op: 'gte', value: 1024 } };
    case 'rule':
      return { rule: refs.rules[0]?.name ?? '' };
    case 'list':
      return { list: refs.lists[0]?.name ?? 'blacklist' };
    case 'segment':
      return { segment: refs.segments[0]?.id ?? '' };
  }
}

interface NodeProps {
  value: Condition;
  onChange(next: Condition): void;
  refs: ConditionRefs;
  /** The dataset whose columns `field` nodes name: customers, or an `exists` dataset. */
  dataset: string;
  path: string;
}

/** The condition tree editor: groups (all/any), NOT, fields, related rows, usage windows and saved references. */
export function ConditionEditor(props: NodeProps) {
  return <Node {...props} />;
}

function Node(props: NodeProps) {
  const { value } = props;
  switch (kindOf(value)) {
    case 'all':
    case 'any':
      return <Group {...props} />;
    case 'not':
      return <Not {...props} />;
    case 'field':
      return <FieldLeaf {...props} />;
    case 'exists':
      return <ExistsLeaf {...props} />;
    case 'aggregate':
      return <AggregateLeaf {...props} />;
    case 'rule':
    case 'list':
    case 'segment':
      return <RefLeaf {...props} />;
  }
}

function Group({ value, onChange, refs, dataset, path }: NodeProps) {
  const { t } = useI18n();
  const mode = 'all' in value ? 'all' : 'any';
  const children = (value as { all?: Condition[]; any?: Condition[] })[mode] ?? [];
  const set = (next: Condition[]) => onChange(mode === 'all' ? { all: next } : { any: next });
  const kinds = dataset === 'customers' ? KINDS : (['field', 'all', 'any'] as const);
  return (
    <div className="cond-group" data-path={path}>
      <Space wrap style={{ marginBottom: 8 }}>
        <Select
          aria-label={t('groupMode')}
          value={mode}
          style={{ width: 180 }}
          onChange={(m: 'all' | 'any') => onChange(m === 'all' ? { all: children } : { any: children })}
          options={[
            { value: 'all', label: t('groupAll') },
            { value: 'any', label: t('groupAny') },
          ]}
        />
        <Select
          aria-label={t('addCondition')}
          placeholder={t('addCondition')}
          value={null}
          style={{ width: 200 }}
          data-testid={`add-${path}`}
          onChange={(kind: (typeof KINDS)[number]) => set([...children, newNode(kind, refs, dataset)])}
          options={kinds.map((k) => ({ value: k, label: t(`kind_${k}` as MessageKey) }))}
        />
      </Space>
      {children.length === 0 && <div className="cond-empty">{mode === 'all' ? t('emptyAll') : t('emptyAny')}</div>}
      {children.map((child, i) => {
        const negated = 'not' in child;
        return (
          <div className="cond-row" key={i}>
            <div className="cond-row-body">
              <Node value={child} refs={refs} dataset={dataset} path={`${path}.${mode}[${i}]`} onChange={(c) => set(children.map((old, j) => (j === i ? c : old)))} />
            </div>
            <Space className="cond-row-tools">
              <Tooltip title={t('negateHint')}>
                <Button
                  size="small"
                  aria-pressed={negated}
                  type={negated ? 'primary' : 'default'}
                  onClick={() => set(children.map((old, j) => (j === i ? ('not' in old ? old.not : { not: old }) : old)))}
                >
                  {t('negate')}
                </Button>
              </Tooltip>
              <Button size="small" danger onClick={() => set(children.filter((_, j) => j !== i))} aria-label={`${t('remove')} ${path}.${mode}[${i}]`}>
                {t('remove')}
              </Button>
            </Space>
          </div>
        );
      })}
    </div>
  );
}

function Not({ value, onChange, refs, dataset, path }: NodeProps) {
  const { t } = useI18n();
  const inner = (value as { not: Condition }).not;
  return (
    <div className="cond-not">
      <Tag color="error">{t('notPrefix')}</Tag>
      <Node value={inner} refs={refs} dataset={dataset} path={`${path}.not`} onChange={(c) => onChange({ not: c })} />
    </div>
  );
}

function columnLabel(c: Column): string {
  return `${c.label}（${c.name}）`;
}

function FieldLeaf({ value, onChange, refs, dataset, path }: NodeProps) {
  const { t } = useI18n();
  const node = value as { field: string; op: Op; value?: Value };
  const columns = refs.catalog.find((d) => d.name === dataset)?.columns ?? [];
  const column = columns.find((c) => c.name === node.field);
  const ops = opsFor(column);
  return (
    <Space wrap>
      <Select
        aria-label={t('field')}
        showSearch={{ optionFilterProp: 'label' }}
        value={node.field}
        style={{ width: 210 }}
        onChange={(field: string) => {
          const next = columns.find((c) => c.name === field);
          const op = opsFor(next).includes(node.op) ? node.op : 'eq';
          onChange({ field, op, value: defaultValue(next, op) } as Condition);
        }}
        options={columns.map((c) => ({ value: c.name, label: columnLabel(c) }))}
      />
      <Select
        aria-label={t('operator')}
        value={node.op}
        style={{ width: 130 }}
        onChange={(op: Op) => onChange({ field: node.field, op, ...(defaultValue(column, op) === undefined ? {} : { value: defaultValue(column, op) }) } as Condition)}
        options={ops.map((op) => ({ value: op, label: t(`op_${op}` as MessageKey) }))}
      />
      <ValueInput column={column} op={node.op} value={node.value} path={path} onChange={(v) => onChange({ ...node, value: v } as Condition)} />
    </Space>
  );
}

function ValueInput({ column, op, value, onChange, path }: { column: Column | undefined; op: Op; value: Value | undefined; onChange(v: Value | undefined): void; path: string }) {
  const { t, code } = useI18n();
  const label = `${t('value')} ${path}`;
  if (op === 'is_null' || op === 'not_null') return null;
  const many = op === 'in' || op === 'not_in';
  if (column?.values || column?.type === 'boolean') {
    const options = column.type === 'boolean'
      ? [{ value: true, label: t('yes') }, { value: false, label: t('no') }]
      : column.values!.map((v) => ({ value: v, label: code(column.name, v) }));
    return (
      <Select
        aria-label={label}
        mode={many ? 'multiple' : undefined}
        value={value as never}
        style={{ minWidth: 160 }}
        onChange={(v: Value) => onChange(v)}
        options={options as never}
      />
    );
  }
  if (many) {
    return (
      <Select
        aria-label={label}
        mode="tags"
        value={((value as Scalar[] | undefined) ?? []).map(String)}
        style={{ minWidth: 220 }}
        tokenSeparators={[',', '，', ' ']}
        placeholder={t('valuesHint')}
        onChange={(v: string[]) => onChange(numeric(column) ? v.map(Number).filter((n) => !Number.isNaN(n)) : v)}
        open={false}
      />
    );
  }
  const single = (v: Scalar | undefined, set: (s: Scalar | undefined) => void, aria: string) =>
    numeric(column) ? (
      <InputNumber aria-label={aria} value={v as number | undefined} onChange={(n) => set(n ?? undefined)} style={{ width: 130 }} />
    ) : column?.type === 'date' ? (
      <Input aria-label={aria} type="date" value={v as string | undefined} onChange={(e) => set(e.target.value)} style={{ width: 160 }} />
    ) : (
      <Input aria-label={aria} value={v as string | undefined} onChange={(e) => set(e.target.value)} style={{ width: 180 }} />
    );
  if (op === 'between') {
    const pair = Array.isArray(value) ? value : [undefined, undefined];
    return (
      <Space>
        {single(pair[0], (s) => onChange([s as Scalar, pair[1] as Scalar]), `${label} ${t('low')}`)}
        <span>–</span>
        {single(pair[1], (s) => onChange([pair[0] as Scalar, s as Scalar]), `${label} ${t('high')}`)}
      </Space>
    );
  }
  return single(value as Scalar | undefined, (s) => onChange(s), label);
}

function ExistsLeaf({ value, onChange, refs, path }: NodeProps) {
  const { t } = useI18n();
  const node = (value as { exists: { dataset: string; where?: Condition } }).exists;
  const related = refs.catalog.filter((d) => d.name !== 'customers' && d.columns.some((c) => c.name === 'customer_id'));
  return (
    <div className="cond-nested">
      <Space wrap>
        <span>{t('existsPrefix')}</span>
        <Select
          aria-label={t('dataset')}
          value={node.dataset}
          style={{ width: 200 }}
          onChange={(dataset: string) => onChange({ exists: { dataset } })}
          options={related.map((d) => ({ value: d.name, label: `${d.label}（${d.name}）` }))}
        />
        {node.where ? (
          <Button size="small" onClick={() => onChange({ exists: { dataset: node.dataset } })}>
            {t('anyRow')}
          </Button>
        ) : (
          <Button size="small" onClick={() => onChange({ exists: { dataset: node.dataset, where: { all: [] } } })}>
            {t('addWhere')}
          </Button>
        )}
      </Space>
      {node.where && (
        <div style={{ marginTop: 8 }}>
          <Node value={node.where} refs={refs} dataset={node.dataset} path={`${path}.exists.where`} onChange={(where) => onChange({ exists: { dataset: node.dataset, where } })} />
        </div>
      )}
    </div>
  );
}

function AggregateLeaf({ value, onChange, refs, path }: NodeProps) {
  const { t } = useI18n();
  const node = (value as { aggregate: { dataset: string; fn: (typeof AGGREGATE_FNS)[number]; field: string; lastMonths: number; op: Op; value?: Value } }).aggregate;
  const usage = refs.catalog.find((d) => d.name === 'usage_monthly');
  const columns = (usage?.columns ?? []).filter((c) => numeric(c) && c.name !== 'customer_id');
  const set = (patch: Partial<typeof node>) => onChange({ aggregate: { ...node, ...patch } } as Condition);
  const valueColumn: Column = { name: 'value', type: 'decimal', label: '', required: false };
  return (
    <Space wrap>
      <span>{t('aggregatePrefix')}</span>
      <InputNumber aria-label={t('lastMonths')} min={1} max={36} value={node.lastMonths} onChange={(n) => set({ lastMonths: n ?? 1 })} style={{ width: 70 }} />
      <span>{t('months')}</span>
      <Select aria-label={t('aggregateFn')} value={node.fn} style={{ width: 110 }} onChange={(fn) => set({ fn })} options={AGGREGATE_FNS.map((fn) => ({ value: fn, label: t(`fn_${fn}` as MessageKey) }))} />
      <Select aria-label={t('field')} value={node.field} style={{ width: 170 }} onChange={(field: string) => set({ field })} options={columns.map((c) => ({ value: c.name, label: columnLabel(c) }))} />
      <Select
        aria-label={t('operator')}
        value={node.op}
        style={{ width: 110 }}
        onChange={(op: Op) => set({ op, value: defaultValue(valueColumn, op) })}
        options={ORDER_OPS.map((op) => ({ value: op, label: t(`op_${op}` as MessageKey) }))}
      />
      <ValueInput column={valueColumn} op={node.op} value={node.value} path={path} onChange={(v) => set({ value: v })} />
    </Space>
  );
}

function RefLeaf({ value, onChange, refs }: NodeProps) {
  const { t } = useI18n();
  const kind = kindOf(value) as 'rule' | 'list' | 'segment';
  const current = (value as unknown as Record<string, string>)[kind];
  const options =
    kind === 'rule'
      ? refs.rules.map((r) => ({ value: r.name, label: `${r.name}${r.description ? ` — ${r.description}` : ''}` }))
      : kind === 'list'
        ? refs.lists.map((l) => ({ value: l.name, label: `${l.label}（${l.name}）` }))
        : refs.segments.filter((s) => s.status === 'ready').map((s) => ({ value: s.id, label: `${s.name}（${s.count ?? '?'}）` }));
  return (
    <Space wrap>
      <span>{t(`refPrefix_${kind}` as MessageKey)}</span>
      <Select
        aria-label={t(`kind_${kind}` as MessageKey)}
        showSearch={{ optionFilterProp: 'label' }}
        value={current || null}
        style={{ width: 320 }}
        onChange={(v: string) => onChange({ [kind]: v } as unknown as Condition)}
        options={options}
      />
    </Space>
  );
}
