/** Every scenario of the lab, and choosing some by name or group. */
import { generateKeys } from '../../pki/keys.js';
import { InvalidArgumentError } from '../../transport/errors.js';
import { checkOptionNames, likelyMeant, type OptionNames } from '../../transport/options.js';
import { labRoot } from './chains.js';
import { certificateScenarios } from './scenarios-certificate.js';
import { controlScenarios, makeClientPki } from './scenarios-control.js';
import { hostnameScenarios } from './scenarios-hostname.js';
import { pkiScenarios } from './scenarios-pki.js';
import { protocolScenarios } from './scenarios-protocol.js';
import { GROUPS, type LabMaterials, type Scenario, type ScenarioGroup } from './types.js';

/** All scenarios, in the order they are listed and reported. */
export const scenarios: readonly Scenario[] = [
  ...pkiScenarios,
  ...certificateScenarios,
  ...hostnameScenarios,
  ...protocolScenarios,
  ...controlScenarios,
];

/** Which scenarios to run: names or groups to keep (`only`) and to leave out (`skip`). */
export interface Selection {
  only?: readonly string[];
  skip?: readonly string[];
}

/** What `startLab` and `selectScenarios` take. */
export const SELECTION_OPTIONS: OptionNames = { known: ['only', 'skip'] };

function matches(scenario: Scenario, entry: string): boolean {
  return scenario.name === entry || scenario.group === entry;
}

/**
 * The scenarios `selection` picks, in catalogue order. An entry that is neither a scenario nor a
 * group is an error naming it, since a typo would otherwise quietly select nothing.
 */
export function selectScenarios(selection: Selection = {}, where = 'selectScenarios'): Scenario[] {
  checkOptionNames(where, selection, SELECTION_OPTIONS);
  for (const field of ['only', 'skip'] as const) {
    const list: unknown = selection[field];
    if (list !== undefined && !(Array.isArray(list) && list.every((entry) => typeof entry === 'string'))) {
      throw new InvalidArgumentError(`${where}: \`${field}\` must be an array of scenario or group names`);
    }
  }
  const entries = [...(selection.only ?? []), ...(selection.skip ?? [])];
  for (const entry of entries) {
    if (!scenarios.some((scenario) => matches(scenario, entry))) {
      const near = likelyMeant(entry, [...scenarios.map((s) => s.name), ...GROUPS]);
      throw new InvalidArgumentError(
        `no scenario or group named '${entry}'${near ? ` (did you mean ${near}?)` : ''}; groups are ${GROUPS.join(', ')}; 'tlskit badtls list' prints every scenario`,
      );
    }
  }
  const only = selection.only?.length ? selection.only : undefined;
  return scenarios.filter(
    (scenario) =>
      (!only || only.some((entry) => matches(scenario, entry))) &&
      !(selection.skip ?? []).some((entry) => matches(scenario, entry)),
  );
}

/** Shared material, each made on first use and then reused by every scenario that asks. */
export function labMaterials(): LabMaterials {
  const once = <T>(make: () => Promise<T>) => {
    let made: Promise<T> | undefined;
    return () => {
      made ??= make();
      return made;
    };
  };
  // One RSA 2048 key serves the RSA root and the RSA leaves of other scenarios: no chain links
  // them (issuer names differ), and each RSA key costs 0.1 to 0.5 s of a core at start-up.
  const rsa = once(() => generateKeys('rsa-2048'));
  return {
    rsaLeafKeys: rsa,
    root: once(() => labRoot()),
    rsaRoot: once(async () => labRoot({ keyType: 'rsa-2048', subject: 'RSA root' }, { keys: await rsa() })),
    clientPki: once(makeClientPki),
  };
}

export type { ScenarioGroup };
