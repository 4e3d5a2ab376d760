CREATE TABLE `deployments` (
	`id` text PRIMARY KEY NOT NULL,
	`environment` text NOT NULL,
	`workflow_id` text NOT NULL,
	`run_id` text NOT NULL,
	`step` text NOT NULL,
	`image` text NOT NULL,
	`version` text,
	`strategy` text NOT NULL,
	`result` text NOT NULL,
	`triggered_by` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `deployments_environment_idx` ON `deployments` (`environment`,`created_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `deployments_run_step_idx` ON `deployments` (`run_id`,`step`);--> statement-breakpoint
CREATE TABLE `environments` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`provider` text NOT NULL,
	`region` text,
	`config` text NOT NULL,
	`secrets` text DEFAULT '' NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `environments_name_unique` ON `environments` (`name`);