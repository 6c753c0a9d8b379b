import { randomBytes } from 'node:crypto';
import { appendFileSync, realpathSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { prettyFactory } from 'pino-pretty';
import { loadDemoSettings } from '../src/config.js';
import { createLogger } from '../src/ops/logger.js';
import { readBody, waitUntil } from './http-util.js';
import { obtainRedis, REDIS_HINT } from './local-redis.js';
import { ATLAS, CHANNELS, PEOPLE, type Sandbox, startSandbox } from './sandbox.js';
import {
  blockText,
  requestIdIn,
  waitForApprovalMessage,
  waitForDm,
  waitForEphemeral,
  waitForThreadReply,
} from './slack-flow.js';
import { createTranscript, type Transcript } from './transcript.js';

type Person = (typeof PEOPLE)[keyof typeof PEOPLE];

const GRANT_SECONDS = 20;
const STORY_COMMAND = `request GROUP_DATA_ACCESS_READ_ONLY on ${ATLAS.project.name} for ${GRANT_SECONDS}s because demo`;

const DISPLAY_NAMES = {
  users: Object.fromEntries(Object.values(PEOPLE).map((p) => [p.id, p.name])),
  channels: { [CHANNELS.approvals]: 'approvals', [CHANNELS.general]: 'general' },
};

/**
 * `npm run demo`: the real application (same composition root as `npm start`) against the in-repo
 * Slack and Atlas simulators, playing one story and printing it as the people involved saw it.
 */
export async function runDemo(argv: readonly string[], write: (line: string) => void): Promise<number> {
  const keep = argv.includes('--keep');
  const started = Date.now();
  const settings = loadDemoSettings();
  const redis = await obtainRedis(settings.redisUrl);
  if (!redis) {
    process.stderr.write(
      `Nothing answers at ${settings.redisUrl} and redis-server is not installed. ${REDIS_HINT}\n`,
    );
    return 1;
  }
  const logDir = await mkdtemp(join(tmpdir(), 'rolecall-demo-'));
  const logFile = join(logDir, 'rolecall.log');
  // The app's JSON lines, made readable for a person with pino-pretty (production keeps JSON).
  const prettify = prettyFactory({
    colorize: false,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
  const logger = createLogger({ level: 'warn', write: (line) => appendFileSync(logFile, prettify(line)) });
  let sandbox: Sandbox | undefined;
  let tryServer: Server | undefined;
  try {
    sandbox = await startSandbox({
      redisUrl: redis.url,
      prefix: `rolecall-demo-${randomBytes(3).toString('hex')}`,
      overrides: { logger },
    });
    const transcript = createTranscript({
      slack: sandbox.slack,
      atlas: sandbox.atlas,
      names: DISPLAY_NAMES,
      write,
    });
    write('Rolecall demo');
    write(
      `The real app (HTTP mode: Bolt receiver with signature checks, BullMQ worker, undici Atlas client with Digest) on port ${sandbox.rolecall.port},`,
    );
    write(
      `talking to local Slack and Atlas simulators. Redis: ${redis.url}${redis.private ? ' (a private redis-server started for this demo)' : ''}, keys under ${sandbox.config.redis.prefix}:*`,
    );
    write(`Every Slack request below is signed with the app's signing secret and sent to /slack/events.`);
    await playStory(sandbox, transcript, write);
    transcript.say(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    printNextSteps(write);
    if (keep) {
      tryServer = await startTryServer(sandbox, transcript, write);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    return 0;
  } catch (error) {
    process.stderr.write(`The demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.stderr.write(`Rolecall's log: ${logFile}\n`);
    return 1;
  } finally {
    if (tryServer) await new Promise((resolve) => tryServer?.close(resolve));
    await sandbox?.stop();
    await redis.stop();
    await rm(logDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function playStory(
  sandbox: Sandbox,
  transcript: Transcript,
  write: (line: string) => void,
): Promise<void> {
  const { slack, driver, atlas } = sandbox;
  const { alice, bob, mallory } = PEOPLE;
  const roles = (when: string) => {
    const held = atlas.rolesOf(alice.email, { kind: 'project', id: ATLAS.project.id });
    transcript.say(`Alice's roles on ${ATLAS.project.name} in Atlas ${when}: ${held.join(', ') || '(none)'}`);
  };

  roles('before');
  transcript.action(alice.id, CHANNELS.general, `/atlas-access ${STORY_COMMAND}`);
  await driver.command(alice, STORY_COMMAND, CHANNELS.general);
  const id = requestIdIn(await waitForEphemeral(slack, alice.id, /Request \*AR-[0-9A-Z]+\*/));
  const approval = await waitForApprovalMessage(slack, id);
  transcript.flush();

  transcript.action(mallory.id, CHANNELS.approvals, 'clicks [Approve]');
  await driver.clickButton(mallory, approval, 'request_approve');
  await waitForEphemeral(slack, mallory.id, /can’t approve/);
  transcript.flush();

  transcript.action(bob.id, CHANNELS.approvals, 'clicks [Approve]');
  await driver.clickButton(bob, approval, 'request_approve');
  await waitForDm(slack, alice.id, /applied/);
  await waitForThreadReply(slack, approval, /applied/);
  await waitUntil(
    () => (/applied\* in Atlas/.test(blockText(approval)) ? true : undefined),
    10_000,
    'updated message',
  );
  transcript.flush();
  roles('now');

  transcript.action(alice.id, undefined, 'opens Rolecall’s Home tab');
  await driver.openHome(alice);
  await waitUntil(
    () => (/grant_end/.test(JSON.stringify(slack.homeOf(alice.id))) ? true : undefined),
    10_000,
    'home tab',
  );
  transcript.flush();

  transcript.say(`… the grant lasts ${GRANT_SECONDS} s; a delayed BullMQ job revokes it on time …`);
  write('');
  await waitForDm(slack, alice.id, /ended/, (GRANT_SECONDS + 20) * 1000);
  await waitForThreadReply(slack, approval, /ended/);
  await waitUntil(
    () => (/\*revoked\*/.test(blockText(approval)) ? true : undefined),
    10_000,
    'revoked message',
  );
  transcript.flush();
  roles('after');
}

function printNextSteps(write: (line: string) => void): void {
  [
    '',
    'Next steps, to run Rolecall for real:',
    '  1. Create the Slack app from manifest.yml (api.slack.com/apps → Create New App → From a manifest).',
    '  2. Copy policy.example.yml to policy.yml and fill in your approvals channel, projects and approvers.',
    '  3. Set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, ATLAS_PUBLIC_KEY, ATLAS_PRIVATE_KEY (see docs/getting-started.md, Configuration).',
    '  4. npm start',
    'Run it again with `npm run demo -- --keep` to leave it running and try commands yourself.',
  ].forEach((line) => {
    write(line);
  });
}

/** --keep: a local endpoint that plays one more line of the story, e.g. `bob deny AR-2Q8ZK4M too broad`. */
async function startTryServer(
  sandbox: Sandbox,
  transcript: Transcript,
  write: (line: string) => void,
): Promise<Server> {
  const follower = setInterval(() => transcript.flush(), 500);
  const server = createServer((req, res) => {
    readBody(req)
      .then(async (line) => {
        const reply = await tryLine(sandbox, transcript, line.trim());
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`${reply}\n`);
      })
      .catch((error: unknown) => {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`${error instanceof Error ? error.message : String(error)}\n`);
      });
  });
  server.on('close', () => clearInterval(follower));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  [
    '',
    'Rolecall and the simulators keep running; Ctrl-C stops them and deletes the demo keys.',
    `Send more as alice, bob, carol, mallory or dave (carol approves ${ATLAS.org.name}, bob and carol approve ${ATLAS.project.name}):`,
    `  curl -s ${url} -d 'alice help'`,
    `  curl -s ${url} -d 'alice request GROUP_DATA_ACCESS_READ_WRITE on ${ATLAS.project.name} for 1m because try it'`,
    `  curl -s ${url} -d 'alice request ORG_READ_ONLY on ${ATLAS.org.name} because audit'`,
    `  curl -s ${url} -d 'alice request GROUP_READ_ONLY payments-prod because oops'     (a malformed line)`,
    `  curl -s ${url} -d 'carol deny ID use the read replica'     (ID: the request's AR-… in the transcript)`,
    `  curl -s ${url} -d 'carol approve ID'`,
    'Each line becomes a signed request to /slack/events, exactly as Slack would send it; the transcript continues here.',
  ].forEach((line) => {
    write(line);
  });
  return server;
}

async function tryLine(sandbox: Sandbox, transcript: Transcript, line: string): Promise<string> {
  const [name = '', verb = '', ...rest] = line.split(/\s+/);
  const person = Object.values(PEOPLE).find((p) => p.name === name.toLowerCase());
  if (!person)
    throw new Error(
      `Start with who you are: ${Object.values(PEOPLE)
        .map((p) => p.name)
        .join(', ')}`,
    );
  const { slack, driver } = sandbox;
  if (verb === 'approve' || verb === 'deny') {
    const id = rest[0] ?? '';
    const approval = await waitForApprovalMessage(slack, id).catch(() => undefined);
    if (!approval) throw new Error(`No approval message for ${id}`);
    transcript.action(
      person.id,
      approval.channel,
      `clicks [${verb === 'approve' ? 'Approve' : 'Deny'}] on ${id}`,
    );
    if (verb === 'approve') {
      await driver.clickButton(person, approval, 'request_approve');
      return `${person.name} clicked Approve on ${id}`;
    }
    await submitDeny(sandbox, person, approval, rest.slice(1).join(' ') || 'denied in the demo');
    return `${person.name} denied ${id}`;
  }
  const text = line
    .slice(name.length)
    .trim()
    .replace(/^\/atlas-access\s*/, '');
  transcript.action(person.id, CHANNELS.general, `/atlas-access ${text}`);
  const ack = await driver.command(person, text, CHANNELS.general);
  return ack.status === 200
    ? `${person.name} sent /atlas-access ${text}`
    : `Rolecall answered HTTP ${ack.status}`;
}

async function submitDeny(
  sandbox: Sandbox,
  person: Person,
  approval: Awaited<ReturnType<typeof waitForApprovalMessage>>,
  reason: string,
): Promise<void> {
  const { slack, driver } = sandbox;
  const before = slack.events.length;
  await driver.clickButton(person, approval, 'request_deny');
  const opened = await waitUntil(
    () => slack.events.slice(before).find((e) => e.kind === 'view' && e.user === person.id),
    3_000,
    'the deny modal (or a refusal)',
  ).catch(() => undefined);
  if (opened?.kind !== 'view') return;
  await driver.submitView(person, opened.view, {
    reason: { value: { type: 'plain_text_input', value: reason } },
  });
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  runDemo(process.argv.slice(2), (line) => process.stdout.write(`${line}\n`)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
}
