<?php
/**
 * Wires each concern to WordPress. Order hooks are added whether or not
 * WooCommerce is active: without it they never fire, and the plugin only places the tag.
 *
 * @package Tapline
 */

namespace Tapline;

final class Plugin {

	public static function boot(): void {
		$settings  = new Settings();
		$client    = new Client( $settings );
		$scheduler = new Scheduler();
		$outbox    = new Orders\Outbox( $settings, $client, $scheduler );

		( new Tag( $settings ) )->register();
		( new Proxy( $settings ) )->register();
		( new Orders\Attribution() )->register();
		( new Orders\Paid( $settings, $outbox ) )->register();
		( new Orders\Refunds( $settings, $outbox ) )->register();
		( new Orders\Subscriptions() )->register();
		$outbox->register();

		if ( is_admin() ) {
			( new Admin\SettingsPage( $settings ) )->register();
			( new Admin\HealthCheck( $settings, $client ) )->register();
		}

		// HPOS: the plugin reads and writes orders only through WooCommerce's CRUD objects.
		add_action( 'before_woocommerce_init', array( self::class, 'declare_hpos' ) );
	}

	/** WooCommerce's FeaturesUtil, documented at developer.woocommerce.com, "High Performance Order Storage: recipes". */
	public static function declare_hpos(): void {
		if ( class_exists( \Automattic\WooCommerce\Utilities\FeaturesUtil::class ) ) {
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', PLUGIN_FILE, true );
		}
	}
}
