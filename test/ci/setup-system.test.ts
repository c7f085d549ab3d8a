import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The backports line .ci/setup-system.sh would add for an apt directory holding `files` (nothing is installed). */
function backportsLine(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'irllrec-apt-'));
  mkdirSync(join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return execFileSync('bash', ['.ci/setup-system.sh', '--backports-line'], { env: { ...process.env, APT_DIR: dir }, encoding: 'utf8' }).trim();
}

describe('.ci/setup-system.sh: bookworm-backports from the mirror the machine already uses', () => {
  it('one-line sources (sources.list and sources.list.d/*.list), options kept, comments and other suites ignored', () => {
    expect(
      backportsLine({
        'sources.list': [
          '# deb http://commented.example/debian bookworm main',
          'deb-src http://src.example/debian bookworm main',
          'deb http://security.example/debian-security bookworm-security main',
          '  deb [arch=amd64 signed-by=/etc/apt/keyrings/m.gpg] http://mirror.local:3142/debian bookworm main contrib',
        ].join('\n'),
      }),
    ).toBe('deb [arch=amd64 signed-by=/etc/apt/keyrings/m.gpg] http://mirror.local:3142/debian bookworm-backports main');
    expect(backportsLine({ 'sources.list.d/local.list': 'deb https://apt.proxy.example/debian   bookworm main\n' })).toBe('deb https://apt.proxy.example/debian bookworm-backports main');
  });

  it('deb822 .sources stanzas: the first enabled deb stanza with suite bookworm; Signed-By as a file', () => {
    const sources = [
      'Types: deb',
      'URIs: http://security.example/debian-security',
      'Suites: bookworm-security',
      'Components: main',
      '',
      'Types: deb-src deb',
      'URIs: http://off.example/debian',
      'Suites: bookworm',
      'Enabled: no',
      '',
      'Types: deb',
      '# a comment inside the stanza',
      'URIs: http://mirror.internal/debian http://second.example/debian',
      'Suites: bookworm bookworm-updates',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
    ].join('\n');
    expect(backportsLine({ 'sources.list.d/debian.sources': sources })).toBe('deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.internal/debian bookworm-backports main');
  });

  it('falls back to deb.debian.org when no bookworm source is found', () => {
    expect(backportsLine({})).toBe('deb http://deb.debian.org/debian bookworm-backports main');
    expect(backportsLine({ 'sources.list': 'deb http://x.example/debian trixie main\n' })).toBe('deb http://deb.debian.org/debian bookworm-backports main');
  });
});
