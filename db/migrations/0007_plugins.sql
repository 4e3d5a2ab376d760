CREATE TABLE `plugin_status_changes` (
	`id` text PRIMARY KEY NOT NULL,
	`plugin_name` text NOT NULL,
	`from_status` text,
	`to_status` text NOT NULL,
	`changed_by` text NOT NULL,
	`reason` text DEFAULT '' NOT NULL,
	`run_ids` text DEFAULT '[]' NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`plugin_name`) REFERENCES `plugins`(`name`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `plugin_status_changes_plugin_idx` ON `plugin_status_changes` (`plugin_name`,`created_at`);--> statement-breakpoint
CREATE TABLE `plugin_validations` (
	`id` text PRIMARY KEY NOT NULL,
	`plugin_name` text NOT NULL,
	`version` text NOT NULL,
	`result` text NOT NULL,
	`run_id` text,
	`detail` text DEFAULT '' NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`plugin_name`) REFERENCES `plugins`(`name`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `plugin_validations_plugin_idx` ON `plugin_validations` (`plugin_name`,`created_at`);--> statement-breakpoint
CREATE TABLE `plugin_versions` (
	`id` text PRIMARY KEY NOT NULL,
	`plugin_name` text NOT NULL,
	`version` text NOT NULL,
	`digest` text NOT NULL,
	`manifest` text NOT NULL,
	`archive` blob NOT NULL,
	`installed_by` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`plugin_name`) REFERENCES `plugins`(`name`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`installed_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `plugin_versions_name_version_idx` ON `plugin_versions` (`plugin_name`,`version`);--> statement-breakpoint
CREATE TABLE `plugins` (
	`name` text PRIMARY KEY NOT NULL,
	`status` text DEFAULT 'experimental' NOT NULL,
	`registry` text DEFAULT 'local' NOT NULL,
	`validation_environment_id` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`validation_environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
ALTER TABLE `workflow_versions` ADD `plugin_pins` text DEFAULT '[]' NOT NULL;