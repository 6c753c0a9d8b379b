import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMAND } from '../../src/slack/handlers/access-command.js';
import { REQUEST_SHORTCUT } from '../../src/slack/handlers/request-form.js';
import { REQUEST_FUNCTION } from '../../src/slack/handlers/workflow-step.js';

const SCHEMA_BASE = 'https://github.com/slackapi/manifest-schema/blob/main';

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../fixtures/slack/manifest/${name}`, import.meta.url), 'utf8'));
}

function compileManifestSchema() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(fixture('manifest.schema.1.0.0.json'), `${SCHEMA_BASE}/manifest.schema.1.0.0.json`);
  ajv.addSchema(fixture('manifest.schema.2.0.0.json'), `${SCHEMA_BASE}/manifest.schema.2.0.0.json`);
  return ajv.compile(fixture('manifest.schema.local.json'));
}

interface Manifest {
  features: {
    slash_commands: { command: string }[];
    app_home: { home_tab_enabled: boolean; messages_tab_enabled: boolean };
    shortcuts: { type: string; callback_id: string }[];
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    interactivity: { is_enabled: boolean };
    event_subscriptions: { bot_events: string[] };
    org_deploy_enabled: boolean;
  };
  functions: Record<
    string,
    {
      input_parameters: { properties: Record<string, { type: string }>; required: string[] };
      output_parameters: { properties: Record<string, { type: string }> };
    }
  >;
}

describe('manifest.yml', () => {
  const manifest = parse(readFileSync(new URL('../../manifest.yml', import.meta.url), 'utf8')) as Manifest;
  const validate = compileManifestSchema();

  it('validates against the official Slack app manifest schema', () => {
    const valid = validate(manifest);
    expect(valid ? [] : validate.errors).toEqual([]);
  });

  it('declares the command the app listens to and the scopes it calls', () => {
    expect(manifest.features.slash_commands.map((c) => c.command)).toEqual([COMMAND]);
    expect(manifest.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining([
        'commands',
        'chat:write',
        'im:write',
        'users:read',
        'users:read.email',
        'usergroups:read',
      ]),
    );
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
  });

  it('declares the Home tab, the shortcut, the events and the workflow step the app handles', () => {
    expect(manifest.features.app_home).toMatchObject({ home_tab_enabled: true, messages_tab_enabled: true });
    expect(manifest.features.shortcuts).toEqual([
      expect.objectContaining({ type: 'global', callback_id: REQUEST_SHORTCUT }),
    ]);
    expect(manifest.settings.event_subscriptions.bot_events).toEqual([
      'app_home_opened',
      'function_executed',
    ]);
    expect(manifest.settings.org_deploy_enabled).toBe(true);
    const step = manifest.functions[REQUEST_FUNCTION];
    expect(Object.keys(step?.input_parameters.properties ?? {})).toEqual([
      'target',
      'roles',
      'duration',
      'reason',
      'interactivity',
      'user',
    ]);
    expect(step?.input_parameters.properties.interactivity?.type).toBe('slack#/types/interactivity');
    expect(step?.input_parameters.properties.user?.type).toBe('slack#/types/user_id');
    expect(step?.input_parameters.required).toEqual(['target', 'roles', 'reason', 'interactivity']);
    expect(Object.keys(step?.output_parameters.properties ?? {})).toEqual(['request_id', 'state']);
  });

  it('rejects a manifest the schema forbids, so the check has teeth', () => {
    expect(validate({ ...manifest, display_information: { name: '' } })).toBe(false);
  });
});
