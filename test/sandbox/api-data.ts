/** Seeded drio v1 data (camelCase, as drio-api.md describes). Each sandbox gets its own deep copy. */
import { TEST_USER } from './types.js';

export interface Template {
  id: string;
  name: string;
  description: string;
  category: string;
}

export interface App {
  id: string;
  ownerId: string;
  publicMcpId: string;
  slug: string;
  name: string;
  description: string;
  version: number;
  status: string;
  isEnabled: boolean;
  templateId: string;
  companyUrl: string | null;
  serverInstructions: string;
  branding: { primaryColor: string; accentColor: string; backgroundColor: string; fontFamily: string; borderRadius: number };
  createdAt: string;
  updatedAt: string;
}

export interface AppExtras {
  tools: Record<string, unknown>[];
  widgets: Record<string, unknown>[];
  auth: Record<string, unknown>[];
  providers: Record<string, unknown>[];
  integrations: Record<string, unknown>[];
}

export interface DrioData {
  templates: Template[];
  apps: App[];
  extras: Map<string, AppExtras>;
}

const TEMPLATES: Template[] = [
  { id: 'tpl_blank', name: 'Blank app', description: 'Start from scratch.', category: 'general' },
  { id: 'tpl_support_desk', name: 'Support desk', description: 'Answer customer questions from your help center.', category: 'support' },
  { id: 'tpl_store_catalog', name: 'Store catalog', description: 'Let assistants browse and compare your products.', category: 'commerce' },
  { id: 'tpl_booking', name: 'Booking', description: 'Check availability and book appointments.', category: 'scheduling' },
];

const branding = (primaryColor: string) => ({
  primaryColor,
  accentColor: '#f5a623',
  backgroundColor: '#ffffff',
  fontFamily: 'Inter',
  borderRadius: 8,
});

function app(id: string, slug: string, name: string, templateId: string, status: string, extra: Partial<App> = {}): App {
  return {
    id,
    ownerId: TEST_USER.id,
    publicMcpId: `mcp_${slug.replace(/-/g, '')}`,
    slug,
    name,
    description: `${name} (sandbox app)`,
    version: 3,
    status,
    isEnabled: status !== 'draft',
    templateId,
    companyUrl: `https://${slug}.example.com`,
    serverInstructions: `You are the ${name} assistant. Be concise.`,
    branding: branding('#3b5bdb'),
    createdAt: '2025-01-15T10:00:00.000Z',
    updatedAt: '2025-03-01T12:30:00.000Z',
    ...extra,
  };
}

const APPS: App[] = [
  app('app_123', 'analytical-engine', 'Analytical Engine', 'tpl_blank', 'published'),
  app('app_support', 'acme-support', 'Acme Support', 'tpl_support_desk', 'published', { branding: branding('#0b7285') }),
  app('app_catalog', 'bernoulli-store', 'Bernoulli Store', 'tpl_store_catalog', 'draft', { version: 1 }),
  // Owned by somebody else: never visible to ada.
  app('app_foreign', 'babbage-bakery', 'Babbage Bakery', 'tpl_booking', 'published', { ownerId: 'user_charles' }),
];

function extrasFor(a: App): AppExtras {
  const tool = (key: string, name: string, order: number, widgetId: string | null) => ({
    id: `tool_${a.id}_${key}`,
    appId: a.id,
    key,
    name,
    description: `${name} for ${a.name}`,
    kind: 'integration',
    isEnabled: true,
    order,
    annotations: { readOnlyHint: key.startsWith('search') || key.startsWith('get'), openWorldHint: false },
    binding: {
      type: 'integration_operation',
      integrationOperationId: `op_${a.id}_${key}`,
      schemaHashAtBindTime: `sha256:${key}`,
      status: 'bound',
    },
    nextToolIds: [] as string[],
    widgetId,
  });
  const tools = [tool('search_items', 'Search items', 1, `wdg_${a.id}_list`), tool('get_item', 'Get item', 2, null), tool('create_ticket', 'Create ticket', 3, null)];
  const widgets = [
    {
      id: `wdg_${a.id}_list`,
      appId: a.id,
      toolId: tools[0]!.id,
      key: 'item_list',
      name: 'Item list',
      primitive: 'list',
      displayMode: 'inline',
      visibility: 'public',
      config: { titleField: 'name', subtitleField: 'summary', maxItems: 5 },
      actions: [{ key: 'open', label: 'Open', toolId: tools[1]!.id }],
    },
  ];
  const auth = [
    { id: `conn_${a.id}_crm`, appId: a.id, providerId: 'prov_hubspot', name: 'HubSpot CRM', type: 'oauth2', status: 'connected', scopes: ['crm.objects.contacts.read'] },
    { id: `conn_${a.id}_api`, appId: a.id, providerId: 'prov_api_key', name: 'Inventory API key', type: 'api_key', status: 'needs_attention', scopes: [] },
  ];
  const providers = [
    { id: 'prov_hubspot', key: 'hubspot', name: 'HubSpot', type: 'oauth2' },
    { id: 'prov_api_key', key: 'api_key', name: 'API key', type: 'api_key' },
  ];
  const integrations = [{ id: `int_${a.id}_rest`, appId: a.id, name: 'Inventory REST API', type: 'openapi', baseUrl: 'https://api.example.com/v2', operations: 3 }];
  return { tools, widgets, auth, providers, integrations };
}

export function seedData(): DrioData {
  const apps = structuredClone(APPS);
  return { templates: structuredClone(TEMPLATES), apps, extras: new Map(apps.map((a) => [a.id, extrasFor(a)])) };
}

export function newAppExtras(a: App): AppExtras {
  return { tools: [], widgets: [], auth: [], providers: extrasFor(a).providers, integrations: [] };
}

export function configOf(a: App, x: AppExtras): Record<string, unknown> {
  return {
    appId: a.id,
    version: a.version,
    serverInstructions: a.serverInstructions,
    branding: a.branding,
    authConnections: x.auth,
    integrations: x.integrations,
    tools: x.tools,
    widgets: x.widgets,
  };
}

/** Public view: ownerId is internal to the sandbox. */
export function publicApp(a: App): Omit<App, 'ownerId'> {
  const { ownerId: _owner, ...rest } = a;
  return rest;
}
