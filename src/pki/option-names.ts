/**
 * The option names of tlskit/pki's functions, and where the names users give them by mistake
 * belong. `checkOptionNames` (src/transport/options.ts) refuses anything else.
 */
import { CLIENT_CONTEXT_OPTIONS, OPTION_NAMES, SERVER_CONTEXT_OPTIONS } from '../tls/option-names.js';
import { belongIn, type OptionNames } from '../transport/options.js';

const CA_OPTIONS = ['keyType', 'subject', 'validity', 'pathLength', 'nameConstraints'] as const;
const ISSUE_OPTIONS = ['hosts', 'subject', 'usage', 'extendedKeyUsages', 'keyType', 'validity'] as const;
const PKCS12_OPTIONS = ['friendlyName', 'iterations'] as const;

const IN_VALIDITY = belongIn(
  ['days', 'notBefore', 'notAfter'],
  (name) => `\`${name}\` belongs in \`validity\`: { validity: { ${name} } }`,
);
const IN_SUBJECT = belongIn(
  ['commonName', 'organization', 'organizationalUnit', 'country', 'state', 'locality', 'cn'],
  (name) => `\`${name}\` belongs in \`subject\`: { subject: { commonName } }, or subject: 'a common name'`,
);

/** What an issued certificate's context shortcuts take: the context's options, minus its own credentials. */
function shortcut(context: 'serverContext' | 'clientContext', names: readonly string[]): OptionNames {
  const own = ['cert', 'key', 'pfx', 'passphrase'];
  return {
    known: names.filter((name) => !own.includes(name)),
    elsewhere: {
      ...OPTION_NAMES[context].elsewhere,
      ...belongIn(
        own,
        (name) =>
          `this certificate and its key are the context's own, so \`${name}\` would be overridden; for other credentials call ${context}() yourself`,
      ),
    },
  };
}

export const PKI_OPTION_NAMES = {
  createCA: {
    known: CA_OPTIONS,
    elsewhere: {
      ...IN_VALIDITY,
      ...IN_SUBJECT,
      hosts:
        '`hosts` is an option of ca.issue(); a CA names no hosts (restrict what it issues with `nameConstraints`)',
      ...belongIn(['usage', 'extendedKeyUsages'], (name) => `\`${name}\` is an option of ca.issue()`),
    },
  },
  issue: {
    known: ISSUE_OPTIONS,
    elsewhere: {
      ...IN_VALIDITY,
      ...IN_SUBJECT,
      ...belongIn(
        ['pathLength', 'nameConstraints'],
        (name) => `a leaf is no CA: \`${name}\` is an option of createCA() and ca.intermediate()`,
      ),
      ...belongIn(['names', 'dnsNames', 'altNames', 'san', 'sans'], () => 'did you mean `hosts`?'),
    },
  },
  validity: { known: ['notBefore', 'notAfter', 'days'], path: 'validity' },
  nameConstraints: { known: ['permitted', 'excluded'], path: 'nameConstraints' },
  revoke: { known: ['reason', 'date'] },
  crlPem: { known: ['days'] },
  exportPkcs12: { known: ['certPem', 'keyPem', 'password', ...PKCS12_OPTIONS] },
  toPkcs12: {
    known: PKCS12_OPTIONS,
    elsewhere: belongIn(
      ['certPem', 'keyPem', 'password'],
      (name) =>
        `toPkcs12 bundles this certificate with its key, so \`${name}\` would be overridden; for others call exportPkcs12()`,
    ),
  },
  loadCA: { known: ['certPem', 'keyPem'] },
  'IssuedCertificate.serverContext': shortcut('serverContext', SERVER_CONTEXT_OPTIONS),
  'IssuedCertificate.clientContext': shortcut('clientContext', CLIENT_CONTEXT_OPTIONS),
} as const satisfies Record<string, OptionNames>;
