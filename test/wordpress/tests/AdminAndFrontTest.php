<?php
/**
 * What a browser sees, over real HTTP to WordPress under php -S: the tag, the settings page with
 * its nonce and capability checks, the Check button, escaping, proxy mode; and uninstall.
 *
 * @package TaplineTests
 */

namespace TaplineTests;

final class AdminAndFrontTest extends TestCase {

	private function site( string $path ): string {
		return home_url( $path );
	}

	/** @var array<string, string> login => cookies: one session each, as a nonce belongs to its session */
	private static array $sessions = array();

	/** Cookies of a logged-in user, as wp-login.php would set them. */
	private function cookies( string $login ): string {
		return self::$sessions[ $login ] ??= $this->log_in( $login );
	}

	private function log_in( string $login ): string {
		$user    = get_user_by( 'login', $login );
		$expires = time() + HOUR_IN_SECONDS;
		$token   = \WP_Session_Tokens::get_instance( $user->ID )->create( $expires );
		return AUTH_COOKIE . '=' . rawurlencode( wp_generate_auth_cookie( $user->ID, $expires, 'auth', $token ) ) . '; ' . LOGGED_IN_COOKIE . '=' . rawurlencode( wp_generate_auth_cookie( $user->ID, $expires, 'logged_in', $token ) );
	}

	private function settings_page( string $login = 'admin' ): array {
		return $this->http( 'GET', $this->site( '/wp-admin/options-general.php?page=tapline' ), null, array( 'Cookie' => $this->cookies( $login ) ) );
	}

	/** The value of a hidden field of the page's form that posts to `$action`. */
	private function nonce( string $html, string $form_action ): string {
		$this->assertMatchesRegularExpression( '#<form[^>]+action="[^"]*' . preg_quote( $form_action, '#' ) . '"#', $html );
		$form = substr( $html, strpos( $html, $form_action ) );
		$this->assertSame( 1, preg_match( '/name="_wpnonce" value="([0-9a-f]+)"/', $form, $match ) );
		return $match[1];
	}

	private function post_form( string $path, array $fields, string $login ): array {
		return $this->http( 'POST', $this->site( $path ), http_build_query( $fields ), array( 'Cookie' => $this->cookies( $login ), 'Content-Type' => 'application/x-www-form-urlencoded', 'Referer' => $this->site( '/wp-admin/options-general.php?page=tapline' ) ) );
	}

	/** Whether `$needle` is in a page, without printing the whole page when it fails. */
	private function assertNotInPage( string $needle, string $page ): void {
		$at = strpos( $page, $needle );
		$this->assertFalse( $at, false === $at ? '' : 'found in the page: …' . substr( $page, max( 0, $at - 200 ), 400 ) . '…' );
	}

	private function assertInPage( string $needle, string $page ): void {
		$this->assertTrue( str_contains( $page, $needle ), "not in the page: $needle" );
	}

	private function fresh_option(): array {
		wp_cache_flush();
		return get_option( 'tapline_settings' );
	}

	public function test_every_front_end_page_has_the_tag_in_its_head(): void {
		$this->settings( array( 'attribution' => 'first', 'cookie_days' => 30 ) );
		$page = $this->http( 'GET', $this->site( '/' ) );
		$this->assertSame( 200, $page['status'] );
		$head = substr( $page['body'], 0, (int) strpos( $page['body'], '</head>' ) );
		$this->assertInPage( '<script>window.tap=window.tap||function(){(tap.q=tap.q||[]).push(arguments)}</script>', $head );
		$this->assertInPage( '<script async src="' . getenv( 'TAPLINE_TEST_FRONT' ) . '/_tap/tap.js" data-attribution="first" data-cookie-days="30"></script>', $head );
	}

	public function test_the_settings_page_shows_secrets_only_masked(): void {
		$page = $this->settings_page();
		$this->assertSame( 200, $page['status'] );
		$this->assertInPage( 'name="tapline_settings[server_token]"', $page['body'] );
		$this->assertNotInPage( getenv( 'TAPLINE_TEST_TOKEN' ), $page['body'] );
		$this->assertInPage( 'saved (…' . substr( getenv( 'TAPLINE_TEST_TOKEN' ), -4 ) . ')', $page['body'] );
		$this->assertSame( 403, $this->settings_page( 'shopper' )['status'], 'a subscriber cannot open it' );
	}

	public function test_saving_settings_checks_the_nonce_and_the_capability_and_keeps_a_blank_secret(): void {
		$nonce  = $this->nonce( $this->settings_page()['body'], 'options.php' );
		$fields = array( 'option_page' => 'tapline', 'action' => 'update', 'tapline_settings' => array( 'worker_url' => 'https://tapline.example.workers.dev/_tap/', 'server_token' => '', 'admin_orders' => '1' ) );

		$this->assertSame( 403, $this->post_form( '/wp-admin/options.php', $fields, 'admin' )['status'], 'no nonce' );
		$this->assertSame( 403, $this->post_form( '/wp-admin/options.php', $fields + array( '_wpnonce' => $nonce ), 'shopper' )['status'], "a subscriber, with the admin's nonce" );
		$this->assertSame( getenv( 'TAPLINE_TEST_FRONT' ) . '/_tap/', $this->fresh_option()['worker_url'] );

		$saved = $this->post_form( '/wp-admin/options.php', $fields + array( '_wpnonce' => $nonce ), 'admin' );
		$this->assertSame( 302, $saved['status'] );
		$option = $this->fresh_option();
		$this->assertSame( 'https://tapline.example.workers.dev/_tap/', $option['worker_url'] );
		$this->assertTrue( $option['admin_orders'] );
		$this->assertSame( getenv( 'TAPLINE_TEST_TOKEN' ), $option['server_token'], 'a blank secret field keeps the stored secret' );
	}

	public function test_the_check_button_checks_nonce_and_capability_and_shows_the_health_answer(): void {
		$nonce = $this->nonce( $this->settings_page()['body'], 'admin-post.php' );
		$check = array( 'action' => 'tapline_check' );
		$this->assertSame( 403, $this->post_form( '/wp-admin/admin-post.php', $check, 'admin' )['status'], 'no nonce' );
		$shopper_nonce_page = $this->http( 'GET', $this->site( '/wp-admin/profile.php' ), null, array( 'Cookie' => $this->cookies( 'shopper' ) ) );
		$this->assertSame( 200, $shopper_nonce_page['status'] );
		$this->assertSame( 403, $this->post_form( '/wp-admin/admin-post.php', $check + array( '_wpnonce' => $nonce ), 'shopper' )['status'], 'a subscriber' );
		$this->assertSame( array(), array_filter( $this->front_seen(), static fn ( $r ) => '/_tap/health' === $r['path'] ), 'refused before asking the worker' );

		$done = $this->post_form( '/wp-admin/admin-post.php', $check + array( '_wpnonce' => $nonce ), 'admin' );
		$this->assertSame( 302, $done['status'] );
		$this->assertInPage( 'options-general.php?page=tapline', $done['headers']['location'] );
		$this->assertInPage( '&quot;ok&quot;: true', $this->settings_page()['body'], "the worker's /health answer" );
	}

	public function test_a_hostile_health_answer_and_a_hostile_setting_stay_text(): void {
		$hostile = 'https://w.example/_tap/"><script>alert(1)</script>';
		update_option( 'tapline_settings', array( 'worker_url' => $hostile, 'server_token' => getenv( 'TAPLINE_TEST_TOKEN' ), 'attribution' => '"><script>alert(3)</script>' ) );
		$this->assertNotInPage( '<script>alert', $this->http( 'GET', $this->site( '/' ) )['body'] );
		$this->assertNotInPage( '<script>alert', $this->settings_page()['body'] );

		$this->settings( array() );
		$nonce = $this->nonce( $this->settings_page()['body'], 'admin-post.php' );
		$this->worker_answers( array( array( 'status' => 200, 'body' => array( 'ok' => true, 'message' => '<script>alert(2)</script>' ) ) ) );
		$this->post_form( '/wp-admin/admin-post.php', array( 'action' => 'tapline_check', '_wpnonce' => $nonce ), 'admin' );
		$page = $this->settings_page()['body'];
		$this->assertInPage( '&lt;script&gt;alert(2)&lt;/script&gt;', $page );
		$this->assertNotInPage( '<script>alert(2)', $page );
	}

	public function test_proxy_mode_forwards_with_the_forwarder_headers_and_caches_the_script(): void {
		$this->settings( array( 'proxy' => true, 'forwarder_secret' => getenv( 'TAPLINE_TEST_FORWARDER_SECRET' ) ) );
		$first = $this->http( 'GET', $this->site( '/_tap/tap.js' ) );
		$this->assertSame( 200, $first['status'] );
		$this->assertInPage( 'javascript', $first['headers']['content-type'] );
		$again = $this->http( 'GET', $this->site( '/_tap/tap.js' ), null, array( 'If-None-Match' => $first['headers']['etag'] ) );
		$this->assertSame( 304, $again['status'] );
		$this->assertSame( $first['body'], $this->http( 'GET', $this->site( '/_tap/tap.js' ) )['body'] );
		$scripts = array_values( array_filter( $this->front_seen(), static fn ( $r ) => '/_tap/tap.js' === $r['path'] ) );
		$this->assertCount( 1, $scripts, 'three page views, one fetch from the worker' );

		$health = $this->http( 'GET', $this->site( '/_tap/health?x=1' ), null, array( 'X-Real-IP' => '198.51.100.66', 'X-Forwarded-For' => '198.51.100.66', 'X-Forwarded-Host' => 'evil.example', 'Tapline-Forwarder' => 'guess' ) );
		$this->assertSame( 200, $health['status'] );
		$this->assertTrue( json_decode( $health['body'], true )['ok'] );
		$seen = array_values( array_filter( $this->front_seen(), static fn ( $r ) => '/_tap/health?x=1' === $r['path'] ) );
		$this->assertCount( 1, $seen );
		$headers = $seen[0]['headers'];
		$host    = wp_parse_url( home_url(), PHP_URL_HOST ) . ':' . wp_parse_url( home_url(), PHP_URL_PORT );
		$this->assertSame( getenv( 'TAPLINE_TEST_FORWARDER_SECRET' ), $headers['tapline-forwarder'] );
		$this->assertSame( '127.0.0.1', $headers['x-real-ip'], "the shopper's address as the shop's server saw it, never a header the shopper sent" );
		$this->assertSame( $host, $headers['x-forwarded-host'] );
		$this->assertSame( 'http', $headers['x-forwarded-proto'] );
		$this->assertArrayNotHasKey( 'x-forwarded-for', $headers );

		// A server event through the shop's own /_tap/: the body and Authorization pass through.
		$event = $this->http( 'POST', $this->site( '/_tap/convert' ), wp_json_encode( array( 'external_id' => 'PROXY-' . wp_generate_password( 6, false ), 'amount' => 5, 'currency' => 'EUR', 'tap_data' => '{"referral_code":"anna"}' ) ), array( 'Authorization' => 'Bearer ' . getenv( 'TAPLINE_TEST_TOKEN' ), 'Content-Type' => 'application/json' ) );
		$this->assertSame( 'sent', json_decode( $event['body'], true )['status'] ?? $event['body'] );
	}

	/**
	 * A shopper through the shop's own /_tap/ to the real worker's forwarder (docs/security.md, "Behind your
	 * own web server"): the worker trusts the plugin's secret, so the host, scheme and IP it uses are the
	 * plugin's. The shopper connects from 127.0.0.2 (the REMOTE_ADDR the plugin passes on) and claims
	 * another address in headers the plugin must not pass; the front sends the worker 127.0.0.1 as its host.
	 */
	public function test_proxy_mode_end_to_end_through_the_workers_forwarder(): void {
		$this->settings( array( 'proxy' => true, 'forwarder_secret' => getenv( 'TAPLINE_TEST_FORWARDER_SECRET' ) ) );
		$from_shopper = static fn ( $handle ) => curl_setopt( $handle, CURLOPT_INTERFACE, '127.0.0.2' );
		add_action( 'http_api_curl', $from_shopper );
		try {
			$origin  = untrailingslashit( home_url( '/' ) );
			$spoofed = array( 'X-Real-IP' => '198.51.100.66', 'X-Forwarded-For' => '198.51.100.66', 'CF-Connecting-IP' => '198.51.100.66', 'X-Forwarded-Host' => 'evil.example', 'X-Forwarded-Proto' => 'https' );
			$browser = $spoofed + array( 'Origin' => $origin, 'Content-Type' => 'application/json', 'User-Agent' => 'WP-Suite-Shopper/1.0' );

			$health = json_decode( $this->http( 'GET', $this->site( '/_tap/health' ), null, $spoofed )['body'], true );
			$this->assertTrue( $health['forwarder'] ?? null, "the worker took the plugin's Tapline-Forwarder" );
			$this->assertTrue( $health['configured'] );

			// The snippet's landing: same origin as the shop (with its port), so the worker's origin check passes only on the forwarded host.
			$code    = 'anna' . strtolower( wp_generate_password( 6, false ) );
			$landing = $this->site( '/?ref=' . $code );
			$click   = $this->http( 'POST', $this->site( '/_tap/click' ), wp_json_encode( array( 'referral_code' => $code, 'landing_page' => $landing ) ), $browser );
			$this->assertSame( 200, $click['status'], $click['body'] );
			$set_cookie = implode( "\n", (array) ( $click['headers']['set-cookie'] ?? array() ) );
			$this->assertSame( 1, preg_match( '/^tap_data=([^;]+)/', $set_cookie, $cookie ), "the worker's cookie, passed back: $set_cookie" );
			$this->assertDoesNotMatchRegularExpression( '/;\s*domain=/i', $set_cookie, "host-only: the shop's own host, as the browser asked for it" );
			$this->assertDoesNotMatchRegularExpression( '/;\s*secure/i', $set_cookie, 'the shop is http here, whatever the shopper claimed' );
			$tap_data = json_decode( rawurldecode( $cookie[1] ), true );
			$this->assertSame( $code, $tap_data['referral_code'] );
			$clicks = json_decode( $this->http( 'GET', getenv( 'TAPLINE_TEST_STANDIN' ) . '/__control/clicks' )['body'], true );
			$made   = array_values( array_filter( $clicks, static fn ( $r ) => ( $r['fields']['referral_code'] ?? '' ) === $code ) );
			$this->assertCount( 1, $made );
			$this->assertSame( '127.0.0.2', $made[0]['fields']['ip'] ?? null );
			$this->assertSame( $landing, $made[0]['fields']['landing_page'] ?? null, "the landing is on the forwarded shop's host" );
			$this->assertSame( $made[0]['id'], $tap_data['click_id'] ?? null );

			// The snippet's conversion, with the cookie the browser now holds.
			$external_id = 'PROXY-BROWSER-' . wp_generate_password( 6, false );
			$event       = $this->http( 'POST', $this->site( '/_tap/convert' ), wp_json_encode( array( 'external_id' => $external_id, 'amount' => 12, 'currency' => 'EUR' ) ), $browser + array( 'Cookie' => 'wordpress_logged_in_x=admin%7Csession; tap_data=' . $cookie[1] . '; woocommerce_cart_hash=abc' ) );
			$this->assertSame( 'sent', json_decode( $event['body'], true )['status'] ?? $event['body'] );
			$passed = array_values( array_filter( $this->front_seen(), static fn ( $r ) => '/_tap/convert' === $r['path'] ) );
			$this->assertSame( 'tap_data=' . $cookie[1], $passed[0]['headers']['cookie'] ?? null, "this site's login and cart cookies never leave it" );
			$postbacks = $this->postbacks( $external_id );
			$this->assertCount( 1, $postbacks );
			$this->assertSame( '127.0.0.2', $postbacks[0]['fields']['ip'] ?? null, "the shopper's address as the shop's server saw it, never a header the shopper sent" );
			$this->assertSame( 'WP-Suite-Shopper/1.0', $postbacks[0]['fields']['user_agent'] ?? null );
			$this->assertSame( $code, $postbacks[0]['fields']['referral_code'] ?? null );
			$this->assertSame( $made[0]['id'], $postbacks[0]['fields']['click_id'] ?? null );
		} finally {
			remove_action( 'http_api_curl', $from_shopper );
		}
	}

	/** What the Check button shows in proxy mode, asking the worker through this site's own /_tap/health. */
	private function proxy_check( string $secret ): string {
		$this->settings( array( 'proxy' => true, 'forwarder_secret' => $secret ) );
		$nonce = $this->nonce( $this->settings_page()['body'], 'admin-post.php' );
		$this->post_form( '/wp-admin/admin-post.php', array( 'action' => 'tapline_check', '_wpnonce' => $nonce ), 'admin' );
		$this->assertSame( 1, preg_match( '#<pre class="tapline-answer">(.*?)</pre>#s', $this->settings_page()['body'], $shown ) );
		return html_entity_decode( $shown[1] );
	}

	public function test_the_check_button_in_proxy_mode_says_whether_the_worker_takes_the_forwarder_secret(): void {
		$right = $this->proxy_check( getenv( 'TAPLINE_TEST_FORWARDER_SECRET' ) );
		$this->assertStringStartsWith( '200 ', $right );
		$this->assertStringContainsString( '"forwarder": true', $right );
		$this->assertStringNotContainsString( 'Forwarder secret', $right, 'no advice when all is well' );

		$this->settings( array( 'proxy' => true, 'forwarder_secret' => 'not-the-workers-secret' ) );
		$health = $this->http( 'GET', $this->site( '/_tap/health' ) );
		$this->assertSame( 401, $health['status'], "the worker's answer, passed back to the browser" );
		$this->assertSame( 'unauthorized', json_decode( $health['body'], true )['error'] ?? $health['body'] );
		$wrong = $this->proxy_check( 'not-the-workers-secret' );
		$this->assertStringStartsWith( '401 ', $wrong );
		$this->assertStringContainsString( '"error": "unauthorized"', $wrong, "the worker's answer" );
		$this->assertStringContainsString( "refused this site's Forwarder secret", $wrong, 'which setting to fix' );

		// A worker without TAPLINE_FORWARDER_SECRET ignores the plugin's headers and says so.
		$this->worker_answers( array( array( 'status' => 200, 'body' => array( 'ok' => true, 'configured' => true, 'forwarder' => false ) ) ) );
		$unset = $this->proxy_check( getenv( 'TAPLINE_TEST_FORWARDER_SECRET' ) );
		$this->assertStringContainsString( 'set TAPLINE_FORWARDER_SECRET on the worker', $unset );
	}

	public function test_proxy_mode_never_forwards_to_this_site_itself(): void {
		$this->settings( array( 'proxy' => true, 'forwarder_secret' => 'x', 'worker_url' => home_url( '/_tap' ) ) );
		$this->assertFalse( ( new \Tapline\Settings() )->proxy() );
		$this->settings( array( 'proxy' => true, 'forwarder_secret' => 'x' ) );
		$this->assertTrue( ( new \Tapline\Settings() )->proxy() );
	}

	public function test_uninstall_removes_the_options_and_the_cached_script(): void {
		set_transient( 'tapline_js_test', array( 'etag' => '"x"', 'body' => '' ), 60 );
		if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
			define( 'WP_UNINSTALL_PLUGIN', 'tapline/tapline.php' );
		}
		include WP_PLUGIN_DIR . '/tapline/uninstall.php';
		wp_cache_flush();
		$this->assertFalse( get_option( 'tapline_settings' ) );
		$this->assertFalse( get_transient( 'tapline_js_test' ) );
	}

	public function test_uninstall_cancels_every_queued_retry(): void {
		// Retries carry their order in their arguments: WP-Cron's and Action Scheduler's alike.
		wp_schedule_single_event( time() + 60, 'tapline_retry', array( 'conversion', 7, 0, 2 ) );
		as_schedule_single_action( time() + 60, 'tapline_retry', array( 'refund', 7, 8, 3 ), 'tapline' );
		if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
			define( 'WP_UNINSTALL_PLUGIN', 'tapline/tapline.php' );
		}
		include WP_PLUGIN_DIR . '/tapline/uninstall.php';
		$this->assertFalse( wp_next_scheduled( 'tapline_retry', array( 'conversion', 7, 0, 2 ) ) );
		$this->assertFalse( as_next_scheduled_action( 'tapline_retry' ) );
	}
}
