import { Alert } from 'antd';
import { ApiError } from '../api';
import { useI18n } from '../i18n';

/** An API problem as the user can act on it: the detail, then each JSON path with its message. */
export function Problem({ error, onClose }: { error: unknown; onClose?: () => void }) {
  const { t } = useI18n();
  if (!error) return null;
  const detail = error instanceof Error ? error.message : String(error);
  const list = error instanceof ApiError ? error.errors : [];
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      title={error instanceof ApiError ? `${t('error')} ${error.status} ${error.code}` : t('error')}
      description={
        <div>
          <div>{detail}</div>
          {list.length > 0 && (
            <ul style={{ margin: '4px 0 0', paddingLeft: 20 }}>
              {list.slice(0, 10).map((e) => (
                <li key={`${e.path}:${e.message}`}>
                  <code>{e.path}</code>: {e.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      }
      closable={onClose ? { onClose } : false}
      style={{ marginBottom: 12 }}
    />
  );
}
