CREATE TABLE `login_throttles` (
	`key` text PRIMARY KEY NOT NULL,
	`failures` integer DEFAULT 0 NOT NULL,
	`locked_until` integer,
	`last_failure_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`delivery_id` text PRIMARY KEY NOT NULL,
	`path` text NOT NULL,
	`run_id` text,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `environments` ADD `protected` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `environments` ADD `allowed_workflows` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `environments` ADD `approvers` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `runner_registration_tokens` ADD `labels` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `runner_registration_tokens` ADD `reusable` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `runner_registration_tokens` ADD `used_at` integer;--> statement-breakpoint
ALTER TABLE `runs` ADD `cancelled_by` text;--> statement-breakpoint
ALTER TABLE `users` ADD `must_change_password` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `disabled_at` integer;