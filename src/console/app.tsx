import { useEffect, useState, type ReactNode } from 'react';
import { App as AntApp, Button, ConfigProvider, Layout, Menu, Segmented, Space, Spin, Tag, Typography } from 'antd';
import zhCN from 'antd/locale/zh_CN';
import enUS from 'antd/locale/en_US';
import { api, may, session, type Role, type Whoami } from './api';
import { I18nProvider, useI18n, type Lang, type MessageKey } from './i18n';
import { match, navigate, useLocation } from './components/router';
import { SignIn } from './pages/SignIn';
import { SegmentBuilder } from './pages/SegmentBuilder';
import { Segments } from './pages/Segments';
import { Rules } from './pages/Rules';
import { Lists } from './pages/Lists';
import { Policies } from './pages/Policies';
import { Campaigns } from './pages/Campaigns';
import { CampaignWizard } from './pages/CampaignWizard';
import { CampaignPage } from './pages/CampaignPage';
import { Reports } from './pages/Reports';
import { Gateways } from './pages/Gateways';
import { Audit } from './pages/Audit';
import { Keys } from './pages/Keys';

/**
 * antd's defaults with darker greys, links and status colours: its placeholders, secondary text,
 * danger buttons and tags fall below WCAG AA contrast (4.5:1) on white, which axe reports.
 */
const THEME = {
  token: {
    colorPrimary: '#0958d9',
    colorInfo: '#0958d9',
    colorLink: '#0958d9',
    colorSuccess: '#237804',
    colorWarning: '#ad4e00',
    colorError: '#cf1322',
    colorTextTertiary: 'rgba(0, 0, 0, 0.62)',
    colorTextQuaternary: 'rgba(0, 0, 0, 0.56)',
  },
};

interface Page {
  path: string;
  title: MessageKey;
  needs: Role;
  render(params: Record<string, string>, who: Whoami): ReactNode;
  /** Shown in the menu (detail pages are reached from their list). */
  menu?: boolean;
}

const PAGES: Page[] = [
  { path: '/segments/new', title: 'nav_builder', needs: 'analyst', menu: true, render: (_, who) => <SegmentBuilder who={who} /> },
  { path: '/segments', title: 'nav_segments', needs: 'analyst', menu: true, render: () => <Segments /> },
  { path: '/rules', title: 'nav_rules', needs: 'analyst', menu: true, render: (_, who) => <Rules who={who} /> },
  { path: '/lists', title: 'nav_lists', needs: 'analyst', menu: true, render: (_, who) => <Lists who={who} /> },
  { path: '/policies', title: 'nav_policies', needs: 'analyst', menu: true, render: (_, who) => <Policies who={who} /> },
  { path: '/campaigns', title: 'nav_campaigns', needs: 'analyst', menu: true, render: (_, who) => <Campaigns who={who} /> },
  { path: '/campaigns/new', title: 'nav_wizard', needs: 'operator', render: (_, who) => <CampaignWizard who={who} /> },
  { path: '/campaigns/:id', title: 'nav_campaign', needs: 'analyst', render: (p, who) => <CampaignPage id={p.id!} who={who} /> },
  { path: '/reports', title: 'nav_reports', needs: 'analyst', menu: true, render: () => <Reports /> },
  { path: '/gateways', title: 'nav_gateways', needs: 'admin', menu: true, render: () => <Gateways /> },
  { path: '/audit', title: 'nav_audit', needs: 'admin', menu: true, render: () => <Audit /> },
  { path: '/keys', title: 'nav_keys', needs: 'admin', menu: true, render: () => <Keys /> },
];

function Shell({ who, onSignOut }: { who: Whoami; onSignOut(): void }) {
  const { t, lang, setLang } = useI18n();
  const { path } = useLocation();
  const visible = PAGES.filter((p) => may(who.role, p.needs));
  const found = visible.map((p) => ({ page: p, params: match(p.path, path) })).find((m) => m.params !== null);

  useEffect(() => {
    if (!found) navigate(visible[0]!.path);
  }, [found, visible]);

  useEffect(() => {
    document.title = `${found ? t(found.page.title) : ''} · ${t('appName')}`;
  }, [found, t]);

  const selected = found?.page.menu ? found.page.path : found?.page.path.startsWith('/campaigns') ? '/campaigns' : '';
  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Sider width={200} theme="light" breakpoint="lg" collapsedWidth={0}>
        <div className="brand">{t('appName')}</div>
        <nav aria-label={t('mainNav')}>
          <Menu
            mode="inline"
            selectedKeys={[selected]}
            onClick={({ key }) => navigate(key)}
            items={visible.filter((p) => p.menu).map((p) => ({ key: p.path, label: <a href={p.path} onClick={(e) => e.preventDefault()}>{t(p.title)}</a> }))}
          />
        </nav>
      </Layout.Sider>
      <Layout>
        <Layout.Header className="topbar">
          <Space>
            <span data-testid="who">{who.name}</span>
            <Tag color="processing">{t(`role_${who.role}`)}</Tag>
            <Segmented
              aria-label={t('language')}
              size="small"
              value={lang}
              onChange={(v) => setLang(v as Lang)}
              options={[
                { value: 'zh', label: '中文' },
                { value: 'en', label: 'English' },
              ]}
            />
            <Button size="small" onClick={onSignOut}>
              {t('signOut')}
            </Button>
          </Space>
        </Layout.Header>
        <Layout.Content className="content">
          <main>
            {found && (
              <>
                <Typography.Title level={1} className="page-title">
                  {t(found.page.title)}
                </Typography.Title>
                {found.page.render(found.params!, who)}
              </>
            )}
          </main>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}

function Root() {
  const { lang } = useI18n();
  const [who, setWho] = useState<Whoami | null | undefined>(session.key() ? undefined : null);

  useEffect(() => {
    if (who !== undefined) return;
    api.whoami().then(setWho, () => {
      session.clear();
      setWho(null);
    });
  }, [who]);

  return (
    <ConfigProvider locale={lang === 'zh' ? zhCN : enUS} theme={THEME}>
      <AntApp>
        {who === undefined ? (
          <Spin style={{ margin: 80 }} />
        ) : who === null ? (
          <SignIn onSignedIn={setWho} />
        ) : (
          <Shell
            who={who}
            onSignOut={() => {
              session.clear();
              setWho(null);
            }}
          />
        )}
      </AntApp>
    </ConfigProvider>
  );
}

export function App() {
  return (
    <I18nProvider>
      <Root />
    </I18nProvider>
  );
}
