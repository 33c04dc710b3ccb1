/** The bad-TLS lab: scenarios, their servers, and the grader that runs a client against them. */
export { type Selection, scenarios, selectScenarios } from './catalogue.js';
export {
  checkCommand,
  DEFAULT_TIMEOUT_MS,
  fillCommand,
  type Got,
  type GradeOptions,
  type GradeReport,
  type GradeResult,
  gradeClient,
  judge,
  type Outcome,
  PLACEHOLDERS,
  type Placeholder,
} from './grader.js';
export { type Lab, type LabFiles, type LabOptions, type LabScenario, startLab } from './lab.js';
export {
  formatLab,
  formatTable,
  type Palette,
  palette,
  progressBar,
  summaryLine,
  toJson,
  toJUnit,
} from './report.js';
export { type Expectation, GROUPS, type Scenario, type ScenarioGroup } from './types.js';
