import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { LOCAL_SERVER_CONFIG } from '../src/embedded';

const root = path.join(__dirname, '..');

interface Service {
  image?: string;
  build?: string;
  ports?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  security_opt?: string[];
  depends_on?: Record<string, unknown> | string[];
}

describe('docker-compose.yml (it cannot start here: no Docker engine; its shape is checked instead)', () => {
  const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };

  it('runs Temporal on PostgreSQL, the Web UI and the Mission worker', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['mission-worker-a', 'mission-worker-b', 'postgresql', 'temporal', 'temporal-ui']);
    expect(compose.services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(compose.services.temporal!.ports).toEqual(['7233:7233']);
    // Mission's dynamic config (the same values its local dev servers get) is mounted where the env points.
    expect(compose.services.temporal!.environment).toMatchObject({ DYNAMIC_CONFIG_FILE_PATH: 'config/dynamicconfig/mission.yaml' });
    expect(compose.services.temporal!.volumes).toEqual(['./deploy/dynamicconfig.yaml:/etc/temporal/config/dynamicconfig/mission.yaml:ro']);
    const dynamic = parse(readFileSync(path.join(root, 'deploy', 'dynamicconfig.yaml'), 'utf8')) as Record<string, { value: unknown }[]>;
    for (const [key, value] of Object.entries(LOCAL_SERVER_CONFIG)) expect(dynamic[key]).toEqual([{ value }]);
    expect(compose.services['temporal-ui']!.ports).toEqual(['8080:8080']);
    expect(compose.services['temporal-ui']!.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233' });
  });

  it('builds each worker from the Dockerfile, points it at the server, and gives it its own data volume and host id', () => {
    const names = ['a', 'b'];
    for (const name of names) {
      const worker = compose.services[`mission-worker-${name}`]!;
      expect(worker.build).toBe('.');
      expect(worker.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', MISSION_TASK_QUEUE: 'mission', MISSION_HOME: '/data', MISSION_HOST_ID: `worker-${name}` });
      // No shared MISSION_HOME: a mission's files stay on the host that took it (its host queue).
      expect(worker.volumes).toEqual(['${MISSION_REPOS:-./repos}:/repos', `mission-data-${name}:/data`]);
      expect(Object.keys(worker.depends_on as Record<string, unknown>)).toEqual(['temporal']);
      // The key comes from the host's environment, never from the file.
      expect(worker.environment!.OPENAI_API_KEY).toBe('${OPENAI_API_KEY:-}');
    }
    expect(Object.keys(compose.volumes).sort()).toEqual(['mission-data-a', 'mission-data-b', 'postgresql-data']);
  });

  it('has a Dockerfile that builds dist/ and starts the worker, with git allowed in mounted repositories', () => {
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/RUN npm ci --no-audit --no-fund/);
    expect(dockerfile).toMatch(/COPY --from=build \/app\/dist \.\/dist/);
    expect(dockerfile).toMatch(/git config --system --add safe.directory '\*'/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "bin\/mission.js"\]\nCMD \["worker"\]/);
  });

  it('gives the worker bubblewrap and lets it create the sandbox\'s namespaces', () => {
    expect(readFileSync(path.join(root, 'Dockerfile'), 'utf8')).toMatch(/apt-get install -y --no-install-recommends [^\n]*\bbubblewrap\b/);
    for (const name of ['mission-worker-a', 'mission-worker-b']) expect(compose.services[name]!.security_opt).toEqual(['seccomp=unconfined', 'apparmor=unconfined']);
    expect(readFileSync(path.join(root, '.ci', 'run'), 'utf8')).toMatch(/apt-get install [^\n]*bubblewrap/);
  });
});
