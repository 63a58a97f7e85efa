#!/usr/bin/env bash
# Publishes the newest models/failure-model-v<N>.json to the Azure ML online endpoint that
# `azd provision` created: registers it as model `failure-model` version N, creates (or updates)
# the `blue` deployment from ml/deployment.yml and sends it all traffic.
#   Needs: az CLI with the ml extension (az extension add -n ml), azd env values (azd env get-values).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(azd env get-values)"
: "${AZURE_RESOURCE_GROUP:?run azd provision first}" "${AZURE_ML_WORKSPACE:?run azd provision first}" "${ML_ENDPOINT_NAME:?run azd provision first}" "${AZURE_FUNCTION_APP_NAME:?run azd provision first}"
model_file="$(ls models/failure-model-v*.json | sort -V | tail -n 1)"
version="$(basename "$model_file" .json | sed 's/.*-v//')"
ws=(--resource-group "$AZURE_RESOURCE_GROUP" --workspace-name "$AZURE_ML_WORKSPACE")

if ! az ml model show --name failure-model --version "$version" "${ws[@]}" >/dev/null 2>&1; then
  az ml model create --name failure-model --version "$version" --path "$model_file" --type custom_model "${ws[@]}"
fi
set_args=(--set "endpoint_name=$ML_ENDPOINT_NAME" "model=azureml:failure-model:$version")
if az ml online-deployment show --name blue --endpoint-name "$ML_ENDPOINT_NAME" "${ws[@]}" >/dev/null 2>&1; then
  az ml online-deployment update --file ml/deployment.yml "${set_args[@]}" "${ws[@]}"
else
  az ml online-deployment create --file ml/deployment.yml --all-traffic "${set_args[@]}" "${ws[@]}"
fi
scoring_uri="$(az ml online-endpoint show --name "$ML_ENDPOINT_NAME" "${ws[@]}" --query scoring_uri -o tsv)"
echo "failure-model v$version serves at $scoring_uri"
# Only now does the Function App get the endpoint: before, every call would have failed. The azd
# environment remembers it, so the next `azd provision` keeps the setting (infra/main.bicep).
azd env set ML_MODEL_DEPLOYED true
az functionapp config appsettings set --name "$AZURE_FUNCTION_APP_NAME" --resource-group "$AZURE_RESOURCE_GROUP" \
  --settings "ML_ENDPOINT_URL=$scoring_uri" "ML_DEPLOYMENT=blue" >/dev/null
echo "The Function App now scores with it (the key is a Key Vault reference it already has)."
