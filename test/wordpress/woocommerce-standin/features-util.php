<?php
/**
 * FeaturesUtil, as WooCommerce documents it for declaring HPOS compatibility
 * (developer.woocommerce.com/docs/hpos-extension-recipe-book/, "Declaring extension (in)compatibility").
 *
 * @package TaplineTests
 */

namespace Automattic\WooCommerce\Utilities;

// phpcs:disable

final class FeaturesUtil {
	/** @var array<string, array<string, bool>> feature id => plugin file => compatible */
	public static array $declared = array();

	/** FeaturesUtil::declare_compatibility( $feature_id, $plugin_file, $positive_compatibility = true ): bool */
	public static function declare_compatibility( string $feature_id, string $plugin_file, bool $positive_compatibility = true ): bool {
		if ( did_action( 'woocommerce_init' ) ) {
			// WooCommerce refuses declarations made after its init (wc_doing_it_wrong), and so does the stand-in.
			return false;
		}
		self::$declared[ $feature_id ][ $plugin_file ] = $positive_compatibility;
		return true;
	}
}
