<?php
/**
 * Runs a hook later: with Action Scheduler when WooCommerce brings it (its
 * queue survives and is visible under Tools → Scheduled Actions), with WP-Cron otherwise.
 *
 * @package Tapline
 */

namespace Tapline;

final class Scheduler {

	public const GROUP = 'tapline';

	public function __construct( private ?bool $action_scheduler = null ) {}

	/** Runs `$hook` with `$args` in `$seconds`, unless that very call is already queued. */
	public function later( int $seconds, string $hook, array $args ): void {
		if ( $this->uses_action_scheduler() ) {
			if ( false === as_next_scheduled_action( $hook, $args, self::GROUP ) ) {
				as_schedule_single_action( time() + $seconds, $hook, $args, self::GROUP );
			}
		} elseif ( false === wp_next_scheduled( $hook, $args ) ) {
			wp_schedule_single_event( time() + $seconds, $hook, $args );
		}
	}

	/** Takes back a queued call of `$hook` with `$args`, if there is one. */
	public function cancel( string $hook, array $args ): void {
		if ( $this->uses_action_scheduler() ) {
			as_unschedule_action( $hook, $args, self::GROUP );
		} else {
			wp_clear_scheduled_hook( $hook, $args );
		}
	}

	public function uses_action_scheduler(): bool {
		return $this->action_scheduler ?? function_exists( 'as_schedule_single_action' );
	}
}
