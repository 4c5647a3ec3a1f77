<?php
/**
 * Plugin Name: WooCommerce (test stand-in)
 * Description: NOT WooCommerce. The part of WooCommerce's API the Tapline plugin calls, written from WooCommerce's
 *              documentation for the tests, because WooCommerce is on no registry the test machines reach.
 *              Each method names the documentation page it follows. Orders live in memory (per PHP process),
 *              loaded and saved through the same CRUD calls WooCommerce's HPOS and post stores take.
 *
 * @package TaplineTests
 */

// phpcs:disable

require __DIR__ . '/features-util.php';

/** The plugin's main class exists when WooCommerce is active (docs: WooCommerce class, code-reference/classes/WooCommerce.html). */
final class WooCommerce {
	public string $version = '8.3.0';
}

/**
 * WooCommerce::init() runs on `init` at priority 0 and fires `before_woocommerce_init`, where
 * extensions declare feature compatibility (developer.woocommerce.com/docs/hpos-extension-recipe-book/).
 */
add_action( 'init', static function () { do_action( 'before_woocommerce_init' ); do_action( 'woocommerce_init' ); }, 0 );

/** Test helpers: what a test drives, not WooCommerce API. */
final class WC_Standin {
	/** @var array<int, array> id => stored row: class, props, meta, items */
	public static array $store = array();
	/** @var array<int, string[]> id => order notes, newest last (WooCommerce keeps them as comments, written at once) */
	public static array $notes = array();
	/** @var array<int, array{time:int, hook:string, args:array, group:string}> */
	public static array $actions = array();
	public static int $next_id = 100;
	public static int $next_action = 1;

	/**
	 * The classic checkout, as WC_Checkout::process_checkout → create_order does it: a new order, the
	 * `woocommerce_checkout_create_order` action before its first save, then `woocommerce_checkout_update_order_meta`
	 * and `woocommerce_checkout_order_processed` (code-reference/classes/WC-Checkout.html#method_create_order).
	 */
	public static function classic_checkout( array $args ): WC_Order {
		$order = self::new_order( $args + array( 'created_via' => 'checkout' ) );
		do_action( 'woocommerce_checkout_create_order', $order, array() );
		$order->save();
		do_action( 'woocommerce_checkout_update_order_meta', $order->get_id(), array() );
		do_action( 'woocommerce_checkout_order_created', $order );
		do_action( 'woocommerce_checkout_order_processed', $order->get_id(), array(), $order );
		return wc_get_order( $order->get_id() );
	}

	/**
	 * The block checkout (Store API): the draft order is updated from the request, the
	 * `woocommerce_store_api_checkout_update_order_meta` action runs, the order is saved, then
	 * `woocommerce_store_api_checkout_order_processed` (developer.woocommerce.com, Store API
	 * "Checkout API" and the Store API hooks reference, docs/third-party-developers/extensibility/hooks/actions.md).
	 */
	public static function block_checkout( array $args ): WC_Order {
		$order = self::new_order( $args + array( 'created_via' => 'store-api', 'status' => 'checkout-draft' ) );
		$order->save();
		$order = wc_get_order( $order->get_id() );
		do_action( 'woocommerce_store_api_checkout_update_order_meta', $order );
		$order->set_status( 'pending' );
		$order->save();
		do_action( 'woocommerce_store_api_checkout_order_processed', $order );
		return wc_get_order( $order->get_id() );
	}

	/**
	 * The order-received page, as WooCommerce's checkout/thankyou.php template renders it: for a failed
	 * order it shows "declined" and a Pay button instead of the order's details, but it runs
	 * `woocommerce_thankyou_{payment method}` and `woocommerce_thankyou` for every order, failed ones too.
	 * Returns what the hooks printed.
	 */
	public static function thankyou_page( int $order_id ): string {
		$order = wc_get_order( $order_id );
		ob_start();
		do_action( 'woocommerce_before_thankyou', $order->get_id() );
		do_action( 'woocommerce_thankyou_' . $order->get_payment_method(), $order->get_id() );
		do_action( 'woocommerce_thankyou', $order->get_id() );
		return ob_get_clean();
	}

	/** An order created in the admin (created_via "admin": code-reference/classes/WC-Abstract-Order.html#method_get_created_via). */
	public static function admin_order( array $args ): WC_Order {
		$order = self::new_order( $args + array( 'created_via' => 'admin' ) );
		$order->save();
		return wc_get_order( $order->get_id() );
	}

	/**
	 * The customer's IP is what WC_Checkout::create_order (and the Store API's order controller) record:
	 * WC_Geolocation::get_ip_address() of the checkout request.
	 *
	 * @param array{items?: array<array{subtotal: float, total?: float}>, discount?: float, tax?: float, shipping?: float, currency?: string, customer_id?: int, coupons?: string[], created_via?: string, status?: string, payment_method?: string, ip?: string} $args
	 */
	public static function new_order( array $args, string $class = WC_Order::class ): WC_Order {
		$order = new $class();
		$items = $args['items'] ?? array( array( 'subtotal' => 100.0 ) );
		$sub   = array_sum( array_column( $items, 'subtotal' ) );
		$disc  = (float) ( $args['discount'] ?? 0 );
		$order->set_props(
			array(
				'status'              => $args['status'] ?? 'pending',
				'currency'            => $args['currency'] ?? 'EUR',
				'customer_id'         => $args['customer_id'] ?? 0,
				'created_via'         => $args['created_via'] ?? '',
				'coupon_codes'        => $args['coupons'] ?? array(),
				'subtotal'            => $sub,
				'discount_total'      => $disc,
				'shipping_total'      => (float) ( $args['shipping'] ?? 0 ),
				'total_tax'           => (float) ( $args['tax'] ?? 0 ),
				'total'               => $sub - $disc + (float) ( $args['shipping'] ?? 0 ) + (float) ( $args['tax'] ?? 0 ),
				'customer_ip_address' => $args['ip'] ?? WC_Geolocation::get_ip_address(),
				'customer_user_agent' => $args['user_agent'] ?? ( $_SERVER['HTTP_USER_AGENT'] ?? '' ),
				'parent_id'           => $args['parent_id'] ?? 0,
				'payment_method'      => $args['payment_method'] ?? 'bacs',
			)
		);
		return $order;
	}

	/** Runs every scheduled action, as if their time had come (Action Scheduler's queue runner). Returns how many ran. */
	public static function run_actions(): int {
		$due           = self::$actions;
		self::$actions = array();
		foreach ( $due as $action ) {
			do_action_ref_array( $action['hook'], $action['args'] );
		}
		return count( $due );
	}

	public static function notes( int $order_id ): array {
		return self::$notes[ $order_id ] ?? array();
	}
}

/**
 * An order: props and meta through getters and setters, persisted by save()
 * (WC_Data: code-reference/classes/WC-Data.html; WC_Abstract_Order: classes/WC-Abstract-Order.html;
 * WC_Order: classes/WC-Order.html).
 */
class WC_Order {
	protected int $id = 0;
	protected array $props = array();
	protected array $meta = array();
	protected array $items = array();
	/** The status when loaded: save() fires the transition hooks when it changed (WC_Order::status_transition). */
	protected string $loaded_status = '';

	/** WC_Data::get_id */
	public function get_id() { return $this->id; }
	/** WC_Abstract_Order::get_type: "shop_order" (WC_Order::get_type). */
	public function get_type() { return 'shop_order'; }
	/** WC_Order::get_order_number, filtered by `woocommerce_order_number`. */
	public function get_order_number() { return (string) apply_filters( 'woocommerce_order_number', $this->id, $this ); }
	/** WC_Abstract_Order::get_status (without the wc- prefix). */
	public function get_status() { return $this->props['status'] ?? 'pending'; }
	/** WC_Abstract_Order::get_currency */
	public function get_currency() { return $this->props['currency'] ?? 'EUR'; }
	/** WC_Abstract_Order::get_subtotal: the line items' subtotals, before discounts, without tax. */
	public function get_subtotal() { return $this->props['subtotal'] ?? 0.0; }
	/** WC_Abstract_Order::get_discount_total: without tax. */
	public function get_discount_total() { return $this->props['discount_total'] ?? 0.0; }
	/** WC_Abstract_Order::get_shipping_total */
	public function get_shipping_total() { return $this->props['shipping_total'] ?? 0.0; }
	/** WC_Abstract_Order::get_total_tax */
	public function get_total_tax() { return $this->props['total_tax'] ?? 0.0; }
	/** WC_Abstract_Order::get_total */
	public function get_total() { return $this->props['total'] ?? 0.0; }
	/** WC_Order::get_customer_id (0 for a guest). */
	public function get_customer_id() { return (int) ( $this->props['customer_id'] ?? 0 ); }
	/** WC_Order::get_created_via: "checkout", "store-api", "admin", "subscription", … */
	public function get_created_via() { return $this->props['created_via'] ?? ''; }
	/** WC_Order::get_customer_ip_address */
	public function get_customer_ip_address() { return $this->props['customer_ip_address'] ?? ''; }
	/** WC_Order::get_customer_user_agent */
	public function get_customer_user_agent() { return $this->props['customer_user_agent'] ?? ''; }
	/** WC_Abstract_Order::get_coupon_codes */
	public function get_coupon_codes() { return $this->props['coupon_codes'] ?? array(); }
	/** WC_Abstract_Order::get_parent_id */
	public function get_parent_id() { return (int) ( $this->props['parent_id'] ?? 0 ); }
	/** WC_Abstract_Order::get_payment_method: the gateway's id ("bacs", "paypal", …). */
	public function get_payment_method() { return $this->props['payment_method'] ?? ''; }
	/**
	 * WC_Abstract_Order::get_items( $types = 'line_item' ): the items of the given type or types
	 * ('line_item', 'shipping', 'fee', 'tax', 'coupon'); products only by default.
	 */
	public function get_items( $types = 'line_item' ) {
		$types = (array) $types;
		$items = array_filter( $this->items, static fn ( $item ) => in_array( $item['type'] ?? 'line_item', $types, true ) );
		return array_map( static fn ( $item ) => WC_Order_Item_Product::of_type( $item ), $items );
	}
	/** WC_Abstract_Order::has_status: whether the status is the one given, or one of those given (filtered by `woocommerce_order_has_status`). */
	public function has_status( $status ) {
		return apply_filters( 'woocommerce_order_has_status', ( is_array( $status ) && in_array( $this->get_status(), $status, true ) ) || $this->get_status() === $status, $this, $status );
	}
	/** WC_Abstract_Order::set_status */
	public function set_status( $status ) { $this->props['status'] = $status; }
	/** WC_Data::set_props */
	public function set_props( array $props ) { $this->props = $props + $this->props; }

	/** WC_Data::get_meta: the first value for a key, '' when none (single = true). */
	public function get_meta( $key = '', $single = true, $context = 'view' ) { return $this->meta[ $key ] ?? ''; }
	/** WC_Data::update_meta_data: kept on the object until save() or save_meta_data(). */
	public function update_meta_data( $key, $value, $meta_id = 0 ) { $this->meta[ $key ] = $value; }
	/** WC_Data::delete_meta_data */
	public function delete_meta_data( $key ) { unset( $this->meta[ $key ] ); }
	/** WC_Data::get_meta_data: every meta entry (here as key => value). */
	public function get_meta_data() { return $this->meta; }

	/** WC_Data::save_meta_data: writes the meta only. */
	public function save_meta_data() {
		if ( $this->id ) {
			WC_Standin::$store[ $this->id ]['meta'] = $this->meta;
		}
	}

	/** WC_Order::save: writes the order, then runs the status transition hooks (WC_Order::status_transition). */
	public function save() {
		if ( ! $this->id ) {
			$this->id = WC_Standin::$next_id++;
		}
		WC_Standin::$store[ $this->id ] = array( 'class' => static::class, 'props' => $this->props, 'meta' => $this->meta, 'items' => $this->items );
		$from = $this->loaded_status;
		$to   = $this->get_status();
		$this->loaded_status = $to;
		if ( $from !== $to && '' !== $from && 'shop_order' === $this->get_type() ) {
			do_action( 'woocommerce_order_status_' . $to, $this->id, $this );
			do_action( 'woocommerce_order_status_' . $from . '_to_' . $to, $this->id, $this );
			do_action( 'woocommerce_order_status_changed', $this->id, $from, $to, $this );
		}
		return $this->id;
	}

	/** WC_Abstract_Order::update_status → set_status, save. */
	public function update_status( $new_status, $note = '', $manual = false ) {
		$this->set_status( $new_status );
		$this->save();
		return true;
	}

	/**
	 * WC_Order::payment_complete: for an order that needs payment, the status becomes processing, the
	 * order is saved (status hooks run), then `woocommerce_payment_complete`; otherwise only
	 * `woocommerce_payment_complete_order_status_{status}` runs.
	 */
	public function payment_complete( $transaction_id = '' ) {
		if ( in_array( $this->get_status(), array( 'on-hold', 'pending', 'failed', 'cancelled', 'checkout-draft' ), true ) ) {
			$this->set_status( apply_filters( 'woocommerce_payment_complete_order_status', 'processing', $this->id, $this ) );
			$this->save();
			do_action( 'woocommerce_payment_complete', $this->id, $transaction_id );
		} else {
			do_action( 'woocommerce_payment_complete_order_status_' . $this->get_status(), $this->id, $transaction_id );
		}
		return true;
	}

	/** WC_Order::add_order_note: a private note, stored at once (as a comment in WooCommerce). */
	public function add_order_note( $note, $is_customer_note = 0, $added_by_user = false ) {
		WC_Standin::$notes[ $this->id ][] = $note;
		return count( WC_Standin::$notes[ $this->id ] );
	}

	/** WC_Order::get_total_refunded */
	public function get_total_refunded() {
		$sum = 0.0;
		foreach ( WC_Standin::$store as $row ) {
			if ( WC_Order_Refund::class === $row['class'] && (int) $row['props']['parent_id'] === $this->id ) {
				$sum += (float) $row['props']['amount'];
			}
		}
		return $sum;
	}

	/** WC_Order::get_remaining_refund_amount: the total minus what was refunded. */
	public function get_remaining_refund_amount() { return wc_format_decimal( $this->get_total() - $this->get_total_refunded(), 2 ); }

	/** Loads a stored row (what wc_get_order does through the order's data store). */
	public static function from_row( int $id, array $row ): static {
		$order                = new static();
		$order->id            = $id;
		$order->props         = $row['props'];
		$order->meta          = $row['meta'];
		$order->items         = $row['items'];
		$order->loaded_status = $order->get_status();
		return $order;
	}

	/** Test helper: line items. */
	public function set_items_for_test( array $items ) { $this->items = $items; }
}

/** WC_Order_Refund: code-reference/classes/WC-Order-Refund.html; its items carry negative totals. */
class WC_Order_Refund extends WC_Order {
	public function get_type() { return 'shop_order_refund'; }
	/** WC_Order_Refund::get_amount */
	public function get_amount() { return $this->props['amount'] ?? 0.0; }
}

/** A line item's totals (WC_Order_Item_Product: code-reference/classes/WC-Order-Item-Product.html). */
class WC_Order_Item_Product {
	public function __construct( protected array $item ) {}
	/** The item object for a stored row, by its type (WC_Order_Factory::get_order_item). */
	public static function of_type( array $item ) {
		return match ( $item['type'] ?? 'line_item' ) {
			'shipping' => new WC_Order_Item_Shipping( $item ),
			'fee'      => new WC_Order_Item_Fee( $item ),
			default    => new WC_Order_Item_Product( $item ),
		};
	}
	/** WC_Order_Item::get_type */
	public function get_type() { return $this->item['type'] ?? 'line_item'; }
	/** WC_Order_Item_Product::get_total: after discounts, without tax. */
	public function get_total() { return $this->item['total'] ?? $this->item['subtotal'] ?? 0.0; }
	/** WC_Order_Item_Product::get_subtotal: before discounts, without tax. */
	public function get_subtotal() { return $this->item['subtotal'] ?? 0.0; }
}

/** A shipping line (WC_Order_Item_Shipping: code-reference/classes/WC-Order-Item-Shipping.html): get_total is its cost without tax. */
final class WC_Order_Item_Shipping extends WC_Order_Item_Product {}

/** A fee line (WC_Order_Item_Fee: code-reference/classes/WC-Order-Item-Fee.html): get_total is the fee without tax. */
final class WC_Order_Item_Fee extends WC_Order_Item_Product {}

/**
 * WC_Geolocation::get_ip_address (includes/class-wc-geolocation.php): the X-Real-IP header as it
 * came (sanitized text, not checked to be an address), else the first X-Forwarded-For entry if it
 * is an address ('' if not), else REMOTE_ADDR.
 */
final class WC_Geolocation {
	public static function get_ip_address() {
		if ( isset( $_SERVER['HTTP_X_REAL_IP'] ) ) {
			return sanitize_text_field( wp_unslash( $_SERVER['HTTP_X_REAL_IP'] ) );
		}
		if ( isset( $_SERVER['HTTP_X_FORWARDED_FOR'] ) ) {
			$first = trim( explode( ',', sanitize_text_field( wp_unslash( $_SERVER['HTTP_X_FORWARDED_FOR'] ) ) )[0] );
			return (string) rest_is_ip_address( $first );
		}
		return isset( $_SERVER['REMOTE_ADDR'] ) ? sanitize_text_field( wp_unslash( $_SERVER['REMOTE_ADDR'] ) ) : '';
	}
}

/** wc_get_order: the order (or refund, or subscription) by id, freshly loaded; false when none (code-reference/files/woocommerce-includes-wc-order-functions.html). */
function wc_get_order( $the_order = false ) {
	$id = is_object( $the_order ) ? $the_order->get_id() : (int) $the_order;
	if ( ! isset( WC_Standin::$store[ $id ] ) ) {
		return false;
	}
	$row = WC_Standin::$store[ $id ];
	return $row['class']::from_row( $id, $row );
}

/**
 * wc_create_refund (wc-order-functions.php): creates the refund with a negative copy of each order item it
 * names (a product, shipping or fee line, of the same item class; one whose quantity, total and tax are all
 * empty is skipped, so a tax-only refund of a product is a product line with total 0), then fires
 * `woocommerce_order_refunded` (order id, refund id); a refund of the whole rest marks the order refunded.
 * Here a line names its type instead of an order item id.
 *
 * @param array{order_id: int, amount: float, line_items?: array<array{total: float, type?: string, tax?: float}>} $args
 */
function wc_create_refund( $args = array() ) {
	$order  = wc_get_order( $args['order_id'] );
	$refund = new WC_Order_Refund();
	$refund->set_props( array( 'parent_id' => $order->get_id(), 'amount' => (float) $args['amount'], 'currency' => $order->get_currency(), 'status' => 'completed' ) );
	$lines = array_filter( $args['line_items'] ?? array(), static fn ( $line ) => ! empty( $line['total'] ) || ! empty( $line['tax'] ) );
	$refund->set_items_for_test( array_map( static fn ( $line ) => array( 'type' => $line['type'] ?? 'line_item', 'total' => -abs( (float) $line['total'] ), 'subtotal' => -abs( (float) $line['total'] ) ), array_values( $lines ) ) );
	$refund->save();
	do_action( 'woocommerce_create_refund', $refund, $args );
	do_action( 'woocommerce_refund_created', $refund->get_id(), $args );
	$order = wc_get_order( $order->get_id() );
	if ( (float) $order->get_remaining_refund_amount() <= 0 ) {
		$order->update_status( 'refunded' );
	}
	do_action( 'woocommerce_order_refunded', $order->get_id(), $refund->get_id() );
	return $refund;
}

/** wc_format_decimal (wc-formatting-functions.php). */
function wc_format_decimal( $number, $dp = false ) { return false === $dp ? (string) $number : number_format( (float) $number, (int) $dp, '.', '' ); }

/*
 * Action Scheduler, bundled with WooCommerce (actionscheduler.org/api/).
 */

/** as_schedule_single_action( $timestamp, $hook, $args, $group ): the action id. */
function as_schedule_single_action( $timestamp, $hook, $args = array(), $group = '', $unique = false, $priority = 10 ) {
	$id                          = WC_Standin::$next_action++;
	WC_Standin::$actions[ $id ] = array( 'time' => (int) $timestamp, 'hook' => $hook, 'args' => $args, 'group' => $group );
	return $id;
}

/** as_enqueue_async_action( $hook, $args, $group ): runs as soon as possible. */
function as_enqueue_async_action( $hook, $args = array(), $group = '', $unique = false, $priority = 10 ) {
	return as_schedule_single_action( time(), $hook, $args, $group );
}

/** as_next_scheduled_action( $hook, $args = null, $group = '' ): the timestamp of the next one, or false. */
function as_next_scheduled_action( $hook, $args = null, $group = '' ) {
	foreach ( WC_Standin::$actions as $action ) {
		if ( $action['hook'] === $hook && ( null === $args || $action['args'] === $args ) && ( '' === $group || $action['group'] === $group ) ) {
			return $action['time'];
		}
	}
	return false;
}

/** as_unschedule_action( $hook, $args = array(), $group = '' ): cancels the next pending action with that hook and args (in that group, if given); its id, or null. */
function as_unschedule_action( $hook, $args = array(), $group = '' ) {
	foreach ( WC_Standin::$actions as $id => $action ) {
		if ( $action['hook'] === $hook && ( ! is_array( $args ) || $action['args'] === $args ) && ( '' === $group || $action['group'] === $group ) ) {
			unset( WC_Standin::$actions[ $id ] );
			return $id;
		}
	}
	return null;
}

/** as_unschedule_all_actions( $hook, $args = array(), $group = '' ) */
function as_unschedule_all_actions( $hook, $args = array(), $group = '' ) {
	WC_Standin::$actions = array_filter( WC_Standin::$actions, static fn ( $action ) => $action['hook'] !== $hook );
}

/*
 * WooCommerce Subscriptions (woocommerce.com/document/subscriptions/develop/functions/).
 */

/** WC_Subscription (extends WC_Order; type shop_subscription). */
class WC_Subscription extends WC_Order {
	public function get_type() { return 'shop_subscription'; }
	/** WC_Subscription::get_parent: the order that started it, or false. */
	public function get_parent() { return $this->get_parent_id() ? wc_get_order( $this->get_parent_id() ) : false; }
}

/**
 * wcs_create_subscription( [ 'order_id' => … ] ), then the parent order's meta copied onto it, as
 * WC_Subscriptions_Checkout::create_subscription does with wcs_copy_order_meta( $order, $subscription, 'subscription' ).
 */
function wcs_create_subscription( $args = array() ) {
	$order        = wc_get_order( $args['order_id'] );
	$subscription = WC_Standin::new_order( array( 'parent_id' => $order->get_id(), 'currency' => $order->get_currency(), 'customer_id' => $order->get_customer_id(), 'status' => 'active', 'items' => array( array( 'subtotal' => $order->get_subtotal() ) ) ), WC_Subscription::class );
	foreach ( $order->get_meta_data() as $key => $value ) {
		$subscription->update_meta_data( $key, $value );
	}
	$subscription->save();
	return wc_get_order( $subscription->get_id() );
}

/**
 * wcs_create_renewal_order( $subscription ): a new order from the subscription, its meta copied through
 * the `wc_subscriptions_renewal_order_data` filter (Subscriptions 2.x+, an array keyed by meta key), or,
 * with $legacy, through `wcs_renewal_order_meta` (older releases: rows with meta_key and meta_value);
 * created_via "subscription", and `_subscription_renewal` naming the subscription.
 */
function wcs_create_renewal_order( $subscription, bool $legacy = false ) {
	$renewal = WC_Standin::new_order( array( 'created_via' => 'subscription', 'currency' => $subscription->get_currency(), 'customer_id' => $subscription->get_customer_id(), 'items' => array( array( 'subtotal' => $subscription->get_subtotal() ) ), 'ip' => '', 'user_agent' => '' ) );
	$meta    = $subscription->get_meta_data();
	if ( $legacy ) {
		$rows = array();
		foreach ( $meta as $key => $value ) {
			$rows[] = array( 'meta_key' => $key, 'meta_value' => $value );
		}
		$meta = array_column( apply_filters( 'wcs_renewal_order_meta', $rows, $renewal, $subscription ), 'meta_value', 'meta_key' );
	} else {
		$meta = apply_filters( 'wc_subscriptions_renewal_order_data', $meta, $renewal, $subscription );
	}
	foreach ( $meta as $key => $value ) {
		$renewal->update_meta_data( $key, $value );
	}
	$renewal->update_meta_data( '_subscription_renewal', $subscription->get_id() );
	$renewal->save();
	return wc_get_order( $renewal->get_id() );
}

/** wcs_order_contains_renewal( $order ): whether the order renews a subscription. */
function wcs_order_contains_renewal( $order ) {
	$order = is_object( $order ) ? $order : wc_get_order( $order );
	return $order && '' !== $order->get_meta( '_subscription_renewal' );
}

/** wcs_get_subscriptions_for_renewal_order( $order ): subscription id => WC_Subscription. */
function wcs_get_subscriptions_for_renewal_order( $order ) {
	$id = (int) ( is_object( $order ) ? $order : wc_get_order( $order ) )->get_meta( '_subscription_renewal' );
	return $id ? array( $id => wc_get_order( $id ) ) : array();
}
