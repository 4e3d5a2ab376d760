/**
 * The API's resources as the browser sees them (JSON: dates are ISO 8601 strings), named over the types
 * generated from /api/openapi.json (`npm run generate:api`). Change a shape in the server's zod schema, never here.
 */
import type { components } from './generated/openapi';

type Schemas = components['schemas'];

export type Role = Schemas['Role'];
export type User = Schemas['User'];
/** A user as admins see them on the Users page. */
export type UserDetails = Schemas['UserDetails'];
export type UserRef = Schemas['UserRef'];

export type WorkflowSummary = Schemas['WorkflowSummary'];
export type Workflow = Schemas['Workflow'];
export type VersionSummary = Schemas['VersionSummary'];
export type Version = Schemas['Version'];
/** `Version.buildResult`: what a version built to when it was published. */
export type VersionBuild = Schemas['VersionBuild'];

export type Diagnostic = Schemas['Diagnostic'];
export type PlanStep = Schemas['PlanStep'];
export type PipelineInput = Schemas['PipelineInput'];
export type PipelinePlan = Schemas['PipelinePlan'];
export type Plan = Schemas['Plan'];
export type ChangeSummary = Schemas['ChangeSummary'];
export type AvailableTypes = Schemas['AvailableTypes'];
export type BuildOk = Schemas['BuildOk'];
export type BuildFailed = Schemas['BuildFailed'];
export type BuildResult = BuildOk | BuildFailed;
export type Published = Schemas['Published'];
export type RolledBack = Schemas['RolledBack'];
export type PublishResult = Published | RolledBack | BuildFailed;

export type RunState = Schemas['RunState'];
export type StepState = Schemas['StepState'];
export type RunTrigger = Schemas['RunTrigger'];
export type RunSummary = Schemas['RunSummary'];
export type RunStep = Schemas['RunStep'];
export type RunJob = Schemas['RunJob'];
export type GateDecision = Schemas['GateDecision'];
export type Run = Schemas['Run'];
export type Artifact = Schemas['Artifact'];

export type ShareLink = Schemas['ShareLink'];
export type CreatedShareLink = Schemas['CreatedShareLink'];
export type SharedStep = Schemas['SharedStep'];
export type SharedRun = Schemas['SharedRun'];

export type Runner = Schemas['Runner'];
export type RegistrationToken = Schemas['CreatedRegistrationToken'];
/** A registration token as listed: never its secret. */
export type RegistrationTokenInfo = Schemas['RunnerRegistrationToken'];
export type ApiToken = Schemas['ApiToken'];
export type CreatedApiToken = Schemas['CreatedApiToken'];

export type EnvironmentProvider = Schemas['EnvironmentProvider'];
export type Environment = Schemas['Environment'];
export type EnvironmentInput = Schemas['EnvironmentInput'];
export type ConnectionTest = Schemas['ConnectionTest'];
export type Deployment = Schemas['Deployment'];
