<?php

// By default, this sample code is designed to get the result from your ActiveCampaign installation and print out the result
$url = 'https://account.api-us1.com';

// the API Key can be found on the "Your Settings" page under the "API" tab.
// replace this with your API Key
$api_key = 'YOUR_API_KEY';

$params = array(

	// this is the action that adds a group
	'api_action'   => 'group_add',

	// define the type of output you wish to get back
	// possible values:
	// - 'xml'  :      you have to write your own XML parser
	// - 'json' :      data is returned in JSON format and can be decoded with
	//                 json_decode() function (included in PHP since 5.2.0)
	// - 'serialize' : data is returned in a serialized format and can be decoded with
	//                 a native unserialize() function
	'api_output'   => 'serialize',
);

// here we define the data we are posting in order to perform an update
$post = array(
	//'id'       => 0, // adds a new one
	'title' => 'Group Title',
	'descript' => 'Group Description',

	// assign it lists:
	'lists[1]' => '1', // access to one list
	//'lists[2]' => '2', // some more lists?

	// assign it sending methods:
	'sendmethods[]' => '1,2', // comma-separated mailer ID's

	// permissions (uncomment the ones you wish to add):
	//'pg_automation_manage' => '1',
	//'pg_form_edit' => '1',
	//'pg_list_bounce' => '1',
	//'pg_list_delete' => '1',
	//'pg_list_edit' => '1',
	//'pg_list_emailaccount' => '1',
	//'pg_list_headers' => '1',
	//'pg_message_add' => '1',
	//'pg_message_delete' => '1',
	//'pg_message_edit' => '1',
	//'pg_message_send' => '1',
	//'pg_reports_campaign' => '1',
	//'pg_reports_list' => '1',
	//'pg_reports_user' => '1',
	//'pg_reports_trend' => '1',
	//'pg_reports_deal' => '1',
	//'pg_subscriber_add' => '1',
	//'pg_subscriber_approve' => '1',
	//'pg_subscriber_delete' => '1',
	//'pg_subscriber_edit' => '1',
	//'pg_subscriber_export' => '1',
	//'pg_subscriber_fields' => '1',
	//'pg_subscriber_filters' => '1',
	//'pg_subscriber_import' => '1',
	//'pg_subscriber_sync' => '1',
	//'pg_template_add' => '1',
	//'pg_template_delete' => '1',
	//'pg_template_edit' => '1',
	//'pg_user_add' => '1',
	//'pg_user_delete' => '1',
	//'pg_user_edit' => '1',

	// limits (uncomment each set to use that limit):

	// attachments limit
	//'group_limit_attachment_checkbox' => 'on',
	//'limit_attachment' => '23',

	// how many campaigns can be sent. type can be: 'day', 'week', 'month', 'month1st', 'monthcdate', 'year', 'ever'
	//'group_limit_campaign_checkbox' => 'on',
	//'limit_campaign' => '34',
	//'limit_campaign_type' => 'month',

	// how many lists can the group have
	//'group_limit_list_checkbox' => 'on',
	//'limit_list' => '45',

	// how many emails (campaigns * contacts) can be sent. type can be: 'day', 'week', 'month', 'month1st', 'monthcdate', 'year', 'ever'
	//'group_limit_mail_checkbox' => 'on',
	//'limit_mail' => '67',
	//'limit_mail_type' => 'month',

	// how many contacts can it handle
	//'group_limit_subscriber_checkbox' => 'on',
	//'limit_subscriber' => '56',

	// how many users can this group have
	//'group_limit_user_checkbox' => 'on',
	//'limit_user' => '12',

	//'unsubscribelink' => 'on', // force unsubscribe links

	'abuseratio' => 4, // abuse ratio threshold (default: 4%)
);

// This section takes the input fields and converts them to the proper format
$query = "";
foreach( $params as $key => $value ) $query .= urlencode($key) . '=' . urlencode($value) . '&';
$query = rtrim($query, '& ');

// This section takes the input data and converts it to the proper format
$data = "";
foreach( $post as $key => $value ) $data .= urlencode($key) . '=' . urlencode($value) . '&';
$data = rtrim($data, '& ');

// clean up the url
$url = rtrim($url, '/ ');

// This sample code uses the CURL library for php to establish a connection,
// submit your request, and show (print out) the response.
if ( !function_exists('curl_init') ) die('CURL not supported. (introduced in PHP 4.0.2)');

// If JSON is used, check if json_decode is present (PHP 5.2.0+)
if ( $params['api_output'] == 'json' && !function_exists('json_decode') ) {
	die('JSON not supported. (introduced in PHP 5.2.0)');
}

// define a final API request - GET
$api = $url . '/admin/api.php?' . $query;

$request = curl_init($api); // initiate curl object
curl_setopt($request, CURLOPT_HTTPHEADER, array('API-TOKEN: ' . $api_key));  //  Provide the API Token via the API-TOKEN header
curl_setopt($request, CURLOPT_HEADER, 0); // set to 0 to eliminate header info from response
curl_setopt($request, CURLOPT_RETURNTRANSFER, 1); // Returns response data instead of TRUE(1)
curl_setopt($request, CURLOPT_POSTFIELDS, $data); // use HTTP POST to send form data
//curl_setopt($request, CURLOPT_SSL_VERIFYPEER, FALSE); // uncomment if you get no gateway response and are using HTTPS
curl_setopt($request, CURLOPT_FOLLOWLOCATION, true);

$response = (string)curl_exec($request); // execute curl post and store results in $response

// additional options may be required depending upon your server configuration
// you can find documentation on curl options at http://www.php.net/curl_setopt
curl_close($request); // close curl object

if ( !$response ) {
	die('Nothing was returned. Do you have a connection to Email Marketing server?');
}

// This line takes the response and breaks it into an array using:
// JSON decoder
//$result = json_decode($response);
// unserializer
$result = unserialize($response);
// XML parser...
// ...

// Result info that is always returned
echo 'Result: ' . ( $result['result_code'] ? 'SUCCESS' : 'FAILED' ) . '<br />';
echo 'Message: ' . $result['result_message'] . '<br />';

// The entire result printed out
echo 'The entire result printed out:<br />';
echo '<pre>';
print_r($result);
echo '</pre>';

// Raw response printed out
echo 'Raw response printed out:<br />';
echo '<pre>';
print_r($response);
echo '</pre>';

// API URL that returned the result
echo 'API URL that returned the result:<br />';
echo $api;

echo '<br /><br />POST params:<br />';
echo '<pre>';
print_r($post);
echo '</pre>';?>
