<?php

$grupo_web_address = 'https://yourgrupowebsiteaddress'; 

$post_fields=[
  'api_secret_key' => 'Your_Grupo_API_Secret_Key',
  'add' => 'groups',
  'group_name' => 'Group Name',
  'description' => 'Group Description',
  'slug' => 'group_slug',
  'group_category_id'=>'1',
  'secret_group' => 'no',
  'unleavable' => 'no',
  'pin_group' => 'no',
  'password_protect' => 'no',
  'password' => 'password',
  'group_icon_url' => 'https://group_icon_image_url',
  'custom_field_10' => 'Custom Field Value',
];

$api_request_url = rtrim($grupo_web_address, '/').'/'.'api_request/';

$curl = curl_init();
curl_setopt_array($curl, array(
  CURLOPT_URL => $api_request_url,
  CURLOPT_RETURNTRANSFER => true,
  CURLOPT_ENCODING => '',
  CURLOPT_MAXREDIRS => 10,
  CURLOPT_TIMEOUT => 0,
  CURLOPT_FOLLOWLOCATION => true,
  CURLOPT_HTTP_VERSION => CURL_HTTP_VERSION_1_1,
  CURLOPT_CUSTOMREQUEST => 'POST',
  CURLOPT_POSTFIELDS => $post_fields,
  CURLOPT_USERAGENT=>'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:99.0) Gecko/20100101 Firefox/99.0'
));


$response = curl_exec($curl);

curl_close($curl);

if (!empty($response)) {
    $response = json_decode($response);
    if (!empty($response)) {
        if ($response->success) {
            echo "Group Created Successfully.";
        } else {
            echo $response->error_message;
        }
    }
}
?>